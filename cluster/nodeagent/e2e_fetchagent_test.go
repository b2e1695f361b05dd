package nodeagent_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container/docker"
)

// The Jenkins agent's bootstrap on a real engine: an init container of the tools image (built
// from the drover binary this test builds) runs `drover fetch-agent` against a "controller"
// that answers 503 twice before serving agent.jar; the jar lands in an emptyDir that the app
// container then reads.
func TestE2EToolsImageFetchAgent(t *testing.T) {
	t.Parallel()
	rt := e2eRuntime(t)
	ctx := context.Background()
	img := fmt.Sprintf("drover/tools:e2e-%d", os.Getpid())
	t.Cleanup(func() { _, _ = rt.Client().ImageRemove(context.Background(), img, image.RemoveOptions{Force: true}) })
	bin := buildDrover(t, t.TempDir())
	if err := docker.EnsureToolsImage(ctx, rt.Client(), img, bin); err != nil {
		t.Fatal(err)
	}

	jar := append([]byte("PK\x03\x04"), bytes.Repeat([]byte("remoting "), 50000)...)
	var mu sync.Mutex
	requests := 0
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		n := requests
		mu.Unlock()
		switch {
		case r.URL.Path != "/jnlpJars/agent.jar":
			http.NotFound(w, r)
		case n <= 2:
			http.Error(w, "Please wait while Jenkins is getting ready to work", http.StatusServiceUnavailable)
		default:
			_, _ = w.Write(jar)
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	e := startE2E(t, e2eOptions{})
	// The pods reach the host at their network's gateway.
	gw, err := rt.EnsureNetwork(ctx, e2eNetwork, e2eSubnet)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s:%d/", gw, l.Addr().(*net.TCPAddr).Port)
	mount := []corev1.VolumeMount{{Name: "drover-agent", MountPath: "/drover-agent"}}
	fetch := corev1.Container{Name: "fetch-agent", Image: img, ImagePullPolicy: corev1.PullNever, VolumeMounts: mount,
		Command: []string{"/drover", "fetch-agent", "--url", url, "--out", "/drover-agent/agent.jar", "--timeout", "1m"}}
	agent := serverContainer("agent", 8080)
	agent.VolumeMounts = mount
	pod := testPod("fetchagent", agent)
	pod.Spec.InitContainers = []corev1.Container{fetch}
	pod.Spec.Volumes = []corev1.Volume{{Name: "drover-agent", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	e.create(pod)
	p := e.waitPod("fetchagent", 90*time.Second, "running", func(p *corev1.Pod) bool {
		if tm := initStatus(p, "fetch-agent").State.Terminated; tm != nil && tm.ExitCode != 0 {
			t.Fatalf("fetch-agent failed: %+v", tm)
		}
		return p.Status.Phase == corev1.PodRunning && podReady(p)
	})
	got := mustHTTP(t, "GET", "http://"+p.Status.PodIP+":8080/file?path=/drover-agent/agent.jar")
	if got != string(jar) {
		t.Errorf("agent container read %d bytes, want the %d-byte jar", len(got), len(jar))
	}
	mu.Lock()
	defer mu.Unlock()
	if requests != 3 {
		t.Errorf("%d requests to the controller, want 3 (503, 503, jar)", requests)
	}
}
