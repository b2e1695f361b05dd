package docker

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/drover-ci/drover/cluster/container"
)

// runServer creates and starts a testserver container from spec and removes it when t ends.
func runServer(t *testing.T, rt *Runtime, spec container.Spec) string {
	t.Helper()
	ctx := context.Background()
	spec.Image = TestImages["testserver"]
	spec.Name = fmt.Sprintf("dt-%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano())
	spec.Labels = map[string]string{"drover.test/docker": "1"}
	id, err := rt.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { rt.Remove(context.Background(), id) })
	if err := rt.Start(ctx, id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return id
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// call sends method url until the server answers (it may still be starting) and returns the
// status and body.
func call(t *testing.T, method, url string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest(method, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMountsAndPortBindings(t *testing.T) {
	rt := engine(t)
	dir, ro := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(ro, "given"), []byte("from host"), 0o644)
	port := freePort(t)
	runServer(t, rt, container.Spec{
		PortBindings: []container.PortBinding{{ContainerPort: 8080, HostIP: "127.0.0.1", HostPort: port}},
		Mounts: []container.Mount{
			{Type: "bind", Source: dir, Target: "/data"},
			{Type: "bind", Source: ro, Target: "/ro", ReadOnly: true},
			{Type: "tmpfs", Target: "/scratch", TmpfsSize: 1 << 20},
		},
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if code, body := call(t, "POST", base+"/write?path=/data/x&data=hi"); code != 200 {
		t.Fatalf("write to bind mount: %d %s", code, body)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "x")); err != nil || string(b) != "hi" {
		t.Errorf("host sees %q, %v; want hi", b, err)
	}
	if code, body := call(t, "GET", base+"/file?path=/ro/given"); code != 200 || body != "from host" {
		t.Errorf("read-only mount read: %d %q", code, body)
	}
	if code, _ := call(t, "POST", base+"/write?path=/ro/no&data=x"); code != 500 {
		t.Errorf("write to read-only mount answered %d, want 500", code)
	}
	if code, body := call(t, "POST", base+"/write?path=/scratch/y&data=tmp"); code != 200 {
		t.Errorf("write to tmpfs: %d %s", code, body)
	}
	if _, body := call(t, "GET", base+"/file?path=/proc/mounts"); !strings.Contains(body, "tmpfs /scratch tmpfs") {
		t.Errorf("/scratch is not a tmpfs:\n%s", body)
	}
}

func TestCreateOptions(t *testing.T) {
	rt := engine(t)
	port := freePort(t)
	id := runServer(t, rt, container.Spec{
		Hostname:     "pod-a",
		DNS:          []string{"10.96.0.10"},
		DNSSearch:    []string{"ns.svc.cluster.local", "svc.cluster.local"},
		DNSOptions:   []string{"ndots:5"},
		ExtraHosts:   []string{"jenkins:10.0.0.9"},
		User:         "1234:1234",
		Env:          []string{"GREETING=hi there"},
		WorkingDir:   "/work",
		MemoryLimit:  64 << 20,
		NanoCPUs:     5e8,
		PidsLimit:    64,
		PortBindings: []container.PortBinding{{ContainerPort: 8080, HostIP: "127.0.0.1", HostPort: port}},
	})
	base := fmt.Sprintf("http://127.0.0.1:%d/file?path=", port)
	for _, c := range []struct{ path, want string }{
		{"/etc/resolv.conf", "nameserver 10.96.0.10\n"},
		{"/etc/resolv.conf", "search ns.svc.cluster.local svc.cluster.local\n"},
		{"/etc/resolv.conf", "options ndots:5\n"},
		{"/etc/hostname", "pod-a"},
		{"/etc/hosts", "10.0.0.9\tjenkins"},
		{"/proc/self/status", "Uid:\t1234\t1234"},
	} {
		if _, body := call(t, "GET", base+c.path); !strings.Contains(body, c.want) {
			t.Errorf("%s does not contain %q:\n%s", c.path, c.want, body)
		}
	}
	if _, body := call(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/env", port)); !strings.Contains(body, "GREETING=hi there\n") {
		t.Errorf("env: %s", body)
	}
	j, err := rt.Client().ContainerInspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if j.HostConfig.Memory != 64<<20 || j.HostConfig.NanoCPUs != 5e8 || j.Config.WorkingDir != "/work" {
		t.Errorf("memory %d nanoCPUs %d workdir %q", j.HostConfig.Memory, j.HostConfig.NanoCPUs, j.Config.WorkingDir)
	}
	// The pids cap is the container's cgroup's (v2 at the cgroup's root, v1 under pids/).
	if p := j.HostConfig.PidsLimit; p == nil || *p != 64 {
		t.Errorf("PidsLimit %v, want 64", p)
	}
	_, v2 := call(t, "GET", base+"/sys/fs/cgroup/pids.max")
	_, v1 := call(t, "GET", base+"/sys/fs/cgroup/pids/pids.max")
	if strings.TrimSpace(v2) != "64" && strings.TrimSpace(v1) != "64" {
		t.Errorf("pids.max in the container: %q (v2) %q (v1), want 64", v2, v1)
	}
}

func TestEnsurePauseImage(t *testing.T) {
	rt := engine(t)
	ctx := context.Background()
	if err := EnsurePauseImage(ctx, rt.Client(), "drover/pause-test:1", "/bin/ls"); err == nil ||
		!strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("EnsurePauseImage with a dynamic binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "pause")
	if out, err := goBuild(ctx, bin, imagesPkg+"pause"); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const img = "drover/pause-test:1"
	t.Cleanup(func() {
		rt.Client().ImageRemove(context.Background(), img, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	for i := 0; i < 2; i++ { // the second call finds the image
		if err := EnsurePauseImage(ctx, rt.Client(), img, bin, "ignored-arg"); err != nil {
			t.Fatalf("EnsurePauseImage #%d: %v", i+1, err)
		}
	}
	in, _, err := rt.Client().ImageInspectWithRaw(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(in.Config.Entrypoint, " "); got != "/pause ignored-arg" || in.Config.Labels[ImageLabel] != "1" {
		t.Errorf("entrypoint %q labels %v", got, in.Config.Labels)
	}
	id, err := rt.Create(ctx, container.Spec{Name: fmt.Sprintf("dt-pause-%d", time.Now().UnixNano()), Image: img})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Remove(ctx, id)
	if err := rt.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	// A Go program cannot catch a SIGTERM that arrives before its runtime has started and
	// main has asked for it (it then exits 2, or as PID 1 ignores it): give it that moment.
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	if err := rt.Stop(ctx, id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c, _ := rt.Inspect(ctx, id)
	if c.State != container.StateExited || c.ExitCode != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("pause after Stop: %s code %d after %v", c.State, c.ExitCode, time.Since(start))
	}
}
