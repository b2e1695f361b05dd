package docker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"github.com/drover-ci/drover/cluster/container/images"
)

const imagesPkg = "github.com/drover-ci/drover/cluster/container/images/"

// TestImages are the test images BuildTestImages builds, by program.
var TestImages = images.Names

// BuildTestImages builds the test images of cluster/container/images that the engine lacks
// (all of them with force), compiling the programs with the Go toolchain (CGO_ENABLED=0).
// It needs drover's source tree and `go`, so it is for tests; scripts/images.sh does the same.
func BuildTestImages(ctx context.Context, cli client.APIClient, force bool) error {
	tmp, err := os.MkdirTemp("", "drover-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for prog, image := range TestImages {
		if !force {
			if _, _, err := cli.ImageInspectWithRaw(ctx, image); err == nil {
				continue
			} else if !errdefs.IsNotFound(err) {
				return fmt.Errorf("docker: inspect image %s: %w", image, err)
			}
		}
		bin := filepath.Join(tmp, prog)
		if out, err := goBuild(ctx, bin, imagesPkg+prog); err != nil {
			return fmt.Errorf("docker: go build %s: %w\n%s", prog, err, out)
		}
		if err := BuildScratchImage(ctx, cli, image, bin, prog); err != nil {
			return err
		}
	}
	return nil
}

// goBuild compiles the static program pkg to bin.
func goBuild(ctx context.Context, bin, pkg string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = sourceDir()
	return cmd.CombinedOutput()
}

// sourceDir is this package's directory when the source tree is at hand (so `go build` runs
// inside drover's module), else the working directory.
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if ok {
		if st, err := os.Stat(filepath.Dir(file)); err == nil && st.IsDir() {
			return filepath.Dir(file)
		}
	}
	return ""
}
