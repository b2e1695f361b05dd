package docker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/drover-ci/drover/cluster/container"
)

// EnsureToolsImage builds a FROM scratch image with the binary at /drover as its entrypoint,
// once (a second call finds it), and refuses a dynamically linked binary. The test image
// program exit stands in for drover: `/drover exec 7 0 hello` prints hello and exits 7.
func TestEnsureToolsImage(t *testing.T) {
	rt := engine(t)
	ctx := context.Background()
	img := fmt.Sprintf("drover/tools-test:%d", os.Getpid())
	t.Cleanup(func() {
		rt.Client().ImageRemove(context.Background(), img, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	if err := EnsureToolsImage(ctx, rt.Client(), img, "/bin/ls"); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("EnsureToolsImage with a dynamic binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "exit")
	if out, err := goBuild(ctx, bin, imagesPkg+"exit"); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for i := 0; i < 2; i++ {
		if err := EnsureToolsImage(ctx, rt.Client(), img, bin); err != nil {
			t.Fatalf("EnsureToolsImage #%d: %v", i+1, err)
		}
	}
	in, _, err := rt.Client().ImageInspectWithRaw(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(in.Config.Entrypoint, " "); got != "/drover" || in.Config.Labels[ImageLabel] != "1" {
		t.Errorf("entrypoint %q labels %v, want /drover and the built label", got, in.Config.Labels)
	}
	id, err := rt.Create(ctx, container.Spec{Name: fmt.Sprintf("dt-tools-%d", time.Now().UnixNano()), Image: img,
		Cmd: []string{"exec", "7", "0", "hello"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Remove(ctx, id)
	if err := rt.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := rt.Inspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.State == container.StateExited {
			if c.ExitCode != 7 {
				t.Errorf("exit code %d, want 7 (the binary at /drover ran with the args)", c.ExitCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container still %s after 30s", c.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A second build replaces nothing when the image exists: its ID is unchanged.
	if err := EnsureToolsImage(ctx, rt.Client(), img, "/nonexistent"); err != nil {
		t.Errorf("EnsureToolsImage with the image present: %v", err)
	}
	if again, _, _ := rt.Client().ImageInspectWithRaw(ctx, img); again.ID != in.ID {
		t.Errorf("image rebuilt: %s -> %s", in.ID, again.ID)
	}
}
