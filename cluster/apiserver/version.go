package apiserver

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"k8s.io/apimachinery/pkg/version"
)

// Build information, set at link time, for example
//
//	go build -ldflags "-X github.com/drover-ci/drover/cluster/apiserver.versionDrover=0.3.0
//	  -X github.com/drover-ci/drover/cluster/apiserver.versionCommit=$(git rev-parse HEAD)
//	  -X github.com/drover-ci/drover/cluster/apiserver.versionBuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
var (
	versionDrover    = "dev"
	versionCommit    = ""
	versionTreeState = ""
	versionBuildDate = "1970-01-01T00:00:00Z"
)

// The Kubernetes API level drover speaks: the minor version of the k8s.io/api module it is built
// with. kubectl compares it with its own version to warn about skew.
const (
	versionMajor = "1"
	versionMinor = "32"
)

// VersionInfo returns what /version answers: Kubernetes 1.32 with drover's own build version in
// the semver pre-release and build parts of GitVersion ("v1.32.0-drover+0.3.0").
func VersionInfo() version.Info {
	git := fmt.Sprintf("v%s.%s.0-drover", versionMajor, versionMinor)
	if b := versionSemverBuild(versionDrover); b != "" && versionDrover != "dev" {
		git += "+" + b
	}
	commit, tree, date := buildVCS()
	return version.Info{
		Major:        versionMajor,
		Minor:        versionMinor,
		GitVersion:   git,
		GitCommit:    commit,
		GitTreeState: tree,
		BuildDate:    date,
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// buildVCS returns the commit, tree state and build date set at link time or, in a build
// without them (go build, go install), those the Go toolchain recorded from the version control
// system (vcs.revision, vcs.modified, and the commit's time as the closest to a build date).
func buildVCS() (commit, tree, date string) {
	commit, tree, date = versionCommit, versionTreeState, versionBuildDate
	if commit != "" {
		return commit, tree, date
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return commit, tree, date
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			tree = "clean"
			if s.Value == "true" {
				tree = "dirty"
			}
		case "vcs.time":
			date = s.Value
		}
	}
	return commit, tree, date
}

// versionSemverBuild keeps only the characters semver allows in build metadata.
func versionSemverBuild(s string) string {
	s = strings.TrimPrefix(s, "v")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	return b.String()
}
