package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"k8s.io/apimachinery/pkg/util/version"
	kversion "k8s.io/apimachinery/pkg/version"

	"github.com/drover-ci/drover/cluster/apiserver/discovery"
	"github.com/drover-ci/drover/cluster/registry"
)

func TestVersionInfo(t *testing.T) {
	old := versionDrover
	t.Cleanup(func() { versionDrover = old })
	for _, tc := range []struct{ build, want string }{
		{"dev", "v1.32.0-drover"},
		{"v0.3.0", "v1.32.0-drover+0.3.0"},
		{"0.3.0+dirty/x", "v1.32.0-drover+0.3.0-dirty-x"},
	} {
		versionDrover = tc.build
		info := VersionInfo()
		if info.GitVersion != tc.want {
			t.Errorf("build %q: GitVersion = %q, want %q", tc.build, info.GitVersion, tc.want)
		}
		v, err := version.ParseSemantic(info.GitVersion)
		if err != nil {
			t.Errorf("GitVersion %q is not semver: %v", info.GitVersion, err)
			continue
		}
		if v.Major() != 1 || v.Minor() != 32 || info.Major != "1" || info.Minor != "32" {
			t.Errorf("version %q (%s.%s), want 1.32", info.GitVersion, info.Major, info.Minor)
		}
		if info.GoVersion != runtime.Version() || info.Platform != runtime.GOOS+"/"+runtime.GOARCH {
			t.Errorf("go/platform = %q %q", info.GoVersion, info.Platform)
		}
	}
}

func TestVersionServed(t *testing.T) {
	srv := httptest.NewServer(discovery.New(registry.Resources().All(), VersionInfo()))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/version")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got kversion.Info
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got != VersionInfo() {
		t.Errorf("/version = %+v, want %+v", got, VersionInfo())
	}
}
