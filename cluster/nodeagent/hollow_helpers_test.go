package nodeagent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/container/hollow"
)

// hollowEnv is a real API server and a node agent on the hollow runtime. Agent and runtime
// share a fake clock that a goroutine advances hollowSpeed times faster than real time, so
// back-off delays, probe periods, grace periods and heartbeats pass quickly but in order.
type hollowEnv struct {
	t      *testing.T
	client kubernetes.Interface
	rt     *hollow.Runtime
	fc     *clocktesting.FakeClock
	node   string
	agent  *Agent             // the current agent
	stop   context.CancelFunc // stops the current agent
	done   chan error
	// configure, when set, adjusts each agent's Config before it starts (startHollowWith).
	configure func(*Config)
}

const (
	hollowSpeed = 10 // fake seconds per real second
	hollowTick  = 2 * time.Millisecond
)

func startHollow(t *testing.T) *hollowEnv {
	t.Helper()
	return startHollowWith(t, nil)
}

// startHollowWith is startHollow with configure applied to each agent's Config (a volume
// manager, say).
func startHollowWith(t *testing.T, configure func(*Config)) *hollowEnv {
	t.Helper()
	srv := apiservertest.Start(t)
	client, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	fc := clocktesting.NewFakeClock(time.Now())
	h := &hollowEnv{t: t, client: client, fc: fc, node: "hollow-" + strings.ToLower(strings.TrimPrefix(t.Name(), "TestHollow")),
		rt: hollow.New(hollow.Options{Clock: fc}), configure: configure}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		tk := time.NewTicker(hollowTick)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				fc.Step(hollowTick * hollowSpeed)
			}
		}
	}()
	t.Cleanup(cancel)
	h.startAgent()
	t.Cleanup(h.stopAgent) // runs before the clock and the server stop
	h.waitNode(func(n *corev1.Node) bool { return nodeReady(n) })
	return h
}

// startAgent runs a new Agent for the node on the env's runtime.
func (h *hollowEnv) startAgent() *Agent {
	h.t.Helper()
	cfg := Config{NodeName: h.node, Client: h.client, Runtime: h.rt, Probes: h.rt.Prober(), Clock: h.fc, NodeIP: "127.0.0.1",
		Logger: testLogger(h.t)}
	if h.configure != nil {
		h.configure(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop, h.done = cancel, make(chan error, 1)
	go func() { h.done <- a.Run(ctx) }()
	h.agent = a
	return a
}

// testLogger sends an agent's logs to t.Log until t's cleanups reach it (an agent's
// goroutines may still log a moment after it stopped).
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.closed = true
	})
	return slog.New(slog.NewTextHandler(w, nil))
}

type testWriter struct {
	t      *testing.T
	mu     sync.Mutex
	closed bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimSuffix(string(b), "\n"))
	}
	return len(b), nil
}

// stopAgent cancels the agent and waits for Run to return.
func (h *hollowEnv) stopAgent() {
	if h.stop == nil {
		return
	}
	h.stop()
	h.stop = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("agent: %v", err)
		}
	case <-time.After(10 * time.Second):
		h.t.Error("agent did not stop within 10s")
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (h *hollowEnv) waitNode(cond func(*corev1.Node) bool) *corev1.Node {
	h.t.Helper()
	var n *corev1.Node
	h.poll(20*time.Second, "node "+h.node, func() (bool, string) {
		var err error
		n, err = h.client.CoreV1().Nodes().Get(context.Background(), h.node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return cond(n), fmt.Sprintf("%+v", n.Status.Conditions)
	})
	return n
}

// poll calls cond every 10 ms (real) until it holds, failing the test after timeout.
func (h *hollowEnv) poll(timeout time.Duration, what string, cond func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
}

// create stores pod (bound to the node) in the default namespace.
func (h *hollowEnv) create(pod *corev1.Pod) *corev1.Pod {
	h.t.Helper()
	pod.Spec.NodeName = h.node
	p, err := h.client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	return p
}

func (h *hollowEnv) get(name string) (*corev1.Pod, error) {
	return h.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
}

// waitPod polls pod name until cond holds.
func (h *hollowEnv) waitPod(name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	h.t.Helper()
	var p *corev1.Pod
	h.poll(20*time.Second, fmt.Sprintf("pod %s: %s", name, what), func() (bool, string) {
		var err error
		if p, err = h.get(name); err != nil {
			return false, err.Error()
		}
		return cond(p), describe(p)
	})
	return p
}

func describe(p *corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase %s ip %q;", p.Status.Phase, p.Status.PodIP)
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, " %s=%s", c.Type, c.Status)
	}
	for _, cs := range p.Status.ContainerStatuses {
		fmt.Fprintf(&b, "; %s restarts %d state %+v last %+v", cs.Name, cs.RestartCount, cs.State, cs.LastTerminationState)
	}
	return b.String()
}

// The pod status helpers are exported to the external e2e tests (package nodeagent_test).
var (
	IsReady  = isReady
	StatusOf = statusOf
)

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func statusOf(p *corev1.Pod, name string) corev1.ContainerStatus {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == name {
			return cs
		}
	}
	return corev1.ContainerStatus{}
}

// events returns "Reason: message" of the pod's events.
func (h *hollowEnv) events(name string) []string {
	list, err := h.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatalf("list events: %v", err)
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}

// waitEvents waits until the pod has an event of every reason.
func (h *hollowEnv) waitEvents(name string, reasons ...string) {
	h.t.Helper()
	h.poll(20*time.Second, fmt.Sprintf("events %v of pod %s", reasons, name), func() (bool, string) {
		evs := h.events(name)
		for _, r := range reasons {
			found := false
			for _, e := range evs {
				found = found || strings.HasPrefix(e, r+":")
			}
			if !found {
				return false, strings.Join(evs, " | ")
			}
		}
		return true, ""
	})
}

// containers lists the runtime's containers of pod uid.
func (h *hollowEnv) containers(uid string) []container.Container {
	h.t.Helper()
	cs, err := h.rt.List(context.Background(), map[string]string{LabelPodUID: uid})
	if err != nil {
		h.t.Fatal(err)
	}
	return cs
}

func hollowPod(name string, cs ...corev1.Container) *corev1.Pod {
	grace := int64(5)
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: cs, TerminationGracePeriodSeconds: &grace}}
}

// hollowContainer runs image "app" scripted by HOLLOW_* variables (name=value pairs).
func hollowContainer(name string, env ...string) corev1.Container {
	c := corev1.Container{Name: name, Image: "app:" + name, ImagePullPolicy: corev1.PullIfNotPresent}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: v})
	}
	return c
}
