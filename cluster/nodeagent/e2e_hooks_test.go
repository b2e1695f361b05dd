package nodeagent_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// hookServer records the paths of the lifecycle hooks' requests, with their User-Agent.
type hookServer struct {
	mu   sync.Mutex
	hits []string
	port int
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.hits = append(h.hits, r.URL.Path+" "+r.UserAgent())
		h.mu.Unlock()
		w.WriteHeader(http.StatusNotFound) // any answer is a hook's success
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	h.port, _ = strconv.Atoi(port)
	return h
}

func (h *hookServer) got() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.hits, ",")
}

func (h *hookServer) handler(path string) *corev1.LifecycleHandler {
	return &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: "127.0.0.1", Path: path, Port: intstr.FromInt(h.port)}}
}

func execHook(script string) *corev1.LifecycleHandler {
	return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", script}}}
}

// postStart and preStop hooks run as the kubelet runs them: exec in the container and httpGet
// from the node (a 404 is an answer, so a success); preStop before the stop signal, when the
// pod is deleted. A failing postStart hook kills its container (FailedPostStartHook, then
// restarted by its policy); a failing preStop hook is a FailedPreStopHook event and the
// container is stopped all the same.
func TestE2ELifecycleHooks(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	hs := newHookServer(t)
	out := t.TempDir()
	logFile := filepath.Join(out, "log")

	app := shellCmd("app", "trap 'echo term >>/out/log; exit 0' TERM; while true; do sleep 0.1; done")
	app.VolumeMounts = []corev1.VolumeMount{{Name: "out", MountPath: "/out"}}
	app.Lifecycle = &corev1.Lifecycle{PostStart: execHook("echo poststart >>/out/log"), PreStop: execHook("echo prestop >>/out/log")}
	web := shellCmd("web", "exec sleep 3600")
	web.Lifecycle = &corev1.Lifecycle{PostStart: hs.handler("/poststart"), PreStop: hs.handler("/prestop")}
	failing := shellCmd("failing", "exec sleep 3600")
	failing.Lifecycle = &corev1.Lifecycle{PostStart: execHook("echo oops; exit 3"), PreStop: execHook("exit 1")}
	pod := testPod("hooks", app, web, failing)
	grace := int64(10)
	pod.Spec.TerminationGracePeriodSeconds = &grace
	dirType := corev1.HostPathDirectory
	pod.Spec.Volumes = []corev1.Volume{{Name: "out", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: out, Type: &dirType}}}}
	e.create(pod)

	e.waitPod("hooks", 60*time.Second, "app and web running, failing restarted", func(p *corev1.Pod) bool {
		return status(p, "app").State.Running != nil && status(p, "web").State.Running != nil && status(p, "failing").RestartCount >= 1
	})
	e.waitEvent("hooks", "FailedPostStartHook",
		`Exec lifecycle hook ([/bin/sh -c echo oops; exit 3]) for Container "failing" in Pod "hooks_default(`,
		`failed - error: command '/bin/sh -c echo oops; exit 3' exited with 3: oops`)
	e.waitEvent("hooks", "Killing: FailedPostStartHook")
	// The failing postStart's container was killed, so its preStop ran and failed.
	e.waitEvent("hooks", "FailedPreStopHook: PreStopHook failed")
	if got := readLog(t, logFile); got != "poststart\n" {
		t.Errorf("log after start = %q, want the postStart line", got)
	}
	if got := hs.got(); got != "/poststart kube-lifecycle/1.32" {
		t.Errorf("hook requests after start = %q", got)
	}

	if err := e.client.CoreV1().Pods("default").Delete(context.Background(), "hooks", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.poll(60*time.Second, "pod deleted", func() (bool, string) {
		_, err := e.client.CoreV1().Pods("default").Get(context.Background(), "hooks", metav1.GetOptions{})
		return err != nil, errString(err)
	})
	if got := readLog(t, logFile); got != "poststart\nprestop\nterm\n" {
		t.Errorf("log after deletion = %q, want the preStop line before the SIGTERM one", got)
	}
	if got := hs.got(); got != "/poststart kube-lifecycle/1.32,/prestop kube-lifecycle/1.32" {
		t.Errorf("hook requests after deletion = %q", got)
	}
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
