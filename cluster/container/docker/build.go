package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"path"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"github.com/drover-ci/drover/cluster/container"
)

// PauseImage is the default name of drover's pod infra image.
const PauseImage = "drover/pause:1"

// ImageLabel marks the images drover builds itself.
const ImageLabel = "drover.io/built"

// EnsurePauseImage builds image (default PauseImage) unless the engine has it: a FROM scratch
// image holding the static executable binary (default: this process's executable) as /pause,
// with entrypoint ["/pause", args...]. So `drover` can be its own pause program
// (args ["pause"]) and no registry or Go toolchain is needed at run time. binary must be
// statically linked (CGO_ENABLED=0): the image has no C library.
func EnsurePauseImage(ctx context.Context, cli client.APIClient, image, binary string, args ...string) error {
	return ensureScratchImage(ctx, cli, image, PauseImage, binary, "pause", args...)
}

// ensureScratchImage builds image (def when empty) with BuildScratchImage from binary (default:
// this process's executable) as /name, unless the engine has it.
func ensureScratchImage(ctx context.Context, cli client.APIClient, image, def, binary, name string, args ...string) error {
	if image == "" {
		image = def
	}
	if _, _, err := cli.ImageInspectWithRaw(ctx, image); err == nil {
		return nil
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("docker: inspect image %s: %w", image, err)
	}
	if binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("docker: image %s: %w", image, err)
		}
		binary = exe
	}
	return BuildScratchImage(ctx, cli, image, binary, name, args...)
}

// EnsureToolsImage builds image (default container.ToolsImage) unless the engine has it: a FROM scratch
// image holding the static executable binary (default: this process's executable) as /drover,
// with entrypoint ["/drover"]. binary must be statically linked (CGO_ENABLED=0).
func EnsureToolsImage(ctx context.Context, cli client.APIClient, image, binary string) error {
	return ensureScratchImage(ctx, cli, image, container.ToolsImage, binary, "drover")
}

// BuildScratchImage builds image FROM scratch with the static executable binary as /name and
// entrypoint ["/name", args...], replacing any image of that name.
func BuildScratchImage(ctx context.Context, cli client.APIClient, image, binary, name string, args ...string) error {
	if err := checkStatic(binary); err != nil {
		return fmt.Errorf("docker: build %s: %w", image, err)
	}
	exe, err := os.ReadFile(binary)
	if err != nil {
		return fmt.Errorf("docker: build %s: %w", image, err)
	}
	entry, _ := json.Marshal(append([]string{"/" + name}, args...))
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY %s /%s\nENTRYPOINT %s\n", name, name, entry)
	buildCtx, err := tarFiles(map[string]file{
		"Dockerfile": {data: []byte(dockerfile), mode: 0o644},
		name:         {data: exe, mode: 0o755},
	})
	if err != nil {
		return fmt.Errorf("docker: build %s: %w", image, err)
	}
	resp, err := cli.ImageBuild(ctx, buildCtx, types.ImageBuildOptions{
		Tags:        []string{image},
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{ImageLabel: "1"},
		Version:     types.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("docker: build %s: %w", image, err)
	}
	defer resp.Body.Close()
	if err := decodeStream(resp.Body, nil); err != nil {
		return fmt.Errorf("docker: build %s: %w", image, err)
	}
	return nil
}

// checkStatic refuses a dynamically linked executable, which cannot run FROM scratch.
func checkStatic(binary string) error {
	f, err := elf.Open(binary)
	if err != nil {
		return fmt.Errorf("%s is not an ELF executable: %w", binary, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; build it with CGO_ENABLED=0", binary)
		}
	}
	return nil
}

type file struct {
	data []byte
	mode int64
}

func tarFiles(files map[string]file) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, f := range files {
		hdr := &tar.Header{Name: path.Clean(name), Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	return &buf, tw.Close()
}
