package resourcemetrics_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/container/hollow"
	"github.com/drover-ci/drover/cluster/nodeagent"
	"github.com/drover-ci/drover/internal/uptest"
)

// cluster is a real API server scraping hollow node agents that serve /metrics/resource on
// loopback ports of their own.
type cluster struct {
	srv     *apiservertest.Server
	client  kubernetes.Interface
	metrics metricsclient.Interface
	nodes   []string
}

func startCluster(t *testing.T, nodes int) *cluster {
	t.Helper()
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{MetricResolution: 300 * time.Millisecond})
	c := &cluster{srv: srv}
	var err error
	if c.client, err = kubernetes.NewForConfig(srv.Config); err != nil {
		t.Fatal(err)
	}
	if c.metrics, err = metricsclient.NewForConfig(srv.Config); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < nodes; i++ {
		name := fmt.Sprintf("hollow-%d", i)
		a, err := nodeagent.New(nodeagent.Config{NodeName: name, Client: c.client, Runtime: hollow.New(hollow.Options{}),
			NodeIP: "127.0.0.1", Port: freePort(t), Logger: discard(),
			TLS: nodeagent.ServerTLS{ClientCA: srv.PKI.CAPool(), Issue: srv.PKI.IssueServing}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = a.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		c.nodes = append(c.nodes, name)
	}
	return c
}

// pod creates a pod on node with containers using the given CPU (cores) and memory.
func (c *cluster) pod(t *testing.T, name, node string, labels map[string]string, usage ...string) {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.PodSpec{NodeName: node}}
	for i := 0; i+1 < len(usage); i += 2 {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i/2), Image: "app",
			Env: []corev1.EnvVar{{Name: hollow.EnvCPU, Value: usage[i]}, {Name: hollow.EnvMemory, Value: usage[i+1]}}})
	}
	if _, err := c.client.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestPodAndNodeMetrics: PodMetrics and NodeMetrics through the metrics clientset: get, list
// by namespace and across namespaces, label selectors, per-container usage near what the
// hollow runtime simulates, and 404 for a pod without metrics.
func TestPodAndNodeMetrics(t *testing.T) {
	c := startCluster(t, 2)
	c.pod(t, "busy", c.nodes[0], map[string]string{"app": "web"}, "500m", "64Mi", "100m", "16Mi")
	c.pod(t, "idle", c.nodes[1], map[string]string{"app": "db"}, "0", "8Mi")
	ctx := context.Background()
	pm := c.metrics.MetricsV1beta1().PodMetricses("default")
	uptest.Eventually(t, 30*time.Second, "metrics of both pods", func() bool {
		l, err := c.metrics.MetricsV1beta1().PodMetricses("").List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 2
	})
	busy, err := pm.Get(ctx, "busy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(busy.Containers) != 2 || busy.Window.Duration <= 0 || busy.Labels["app"] != "web" {
		t.Fatalf("busy: %+v", busy)
	}
	for i, want := range []struct{ cpu, mem int64 }{{500, 64 << 20}, {100, 16 << 20}} {
		u := busy.Containers[i].Usage
		if cpu := u.Cpu().MilliValue(); cpu < want.cpu-5 || cpu > want.cpu+5 {
			t.Errorf("container %s: cpu %dm, want about %dm", busy.Containers[i].Name, cpu, want.cpu)
		}
		if mem := u.Memory().Value(); mem != want.mem {
			t.Errorf("container %s: memory %d, want %d", busy.Containers[i].Name, mem, want.mem)
		}
	}
	sel, err := pm.List(ctx, metav1.ListOptions{LabelSelector: "app=db"})
	if err != nil || len(sel.Items) != 1 || sel.Items[0].Name != "idle" {
		t.Errorf("app=db: %v %+v", err, sel)
	}
	if _, err := pm.Get(ctx, "absent", metav1.GetOptions{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("absent pod: %v, want not found", err)
	}
	if l, err := c.metrics.MetricsV1beta1().PodMetricses("kube-system").List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("kube-system: %v %+v", err, l)
	}
	anon, err := rest.HTTPClientFor(rest.AnonymousClientConfig(c.srv.Config))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/apis/metrics.k8s.io/v1beta1/pods", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/busy",
		"/apis/metrics.k8s.io/v1beta1/nodes", "/apis/metrics.k8s.io/v1beta1"} {
		resp, err := anon.Get(c.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d, want 401", path, resp.StatusCode)
		}
	}
	rc := c.client.CoreV1().RESTClient()
	if err := rc.Post().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods").Body([]byte(`{}`)).Do(ctx).Error(); !apierrors.IsMethodNotSupported(err) {
		t.Errorf("create PodMetrics: %v, want 405 MethodNotSupported", err)
	}
	if err := rc.Delete().AbsPath("/apis/metrics.k8s.io/v1beta1/nodes/" + c.nodes[0]).Do(ctx).Error(); !apierrors.IsMethodNotSupported(err) {
		t.Errorf("delete NodeMetrics: %v, want 405 MethodNotSupported", err)
	}
	var nodes []string
	uptest.Eventually(t, 30*time.Second, "metrics of both nodes", func() bool {
		l, err := c.metrics.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{})
		nodes = nil
		for _, n := range l.Items {
			nodes = append(nodes, n.Name)
		}
		return err == nil && len(l.Items) == 2
	})
	n0, err := c.metrics.MetricsV1beta1().NodeMetricses().Get(ctx, c.nodes[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cpu := n0.Usage.Cpu().MilliValue(); cpu < 590 || cpu > 610 {
		t.Errorf("node %s: cpu %dm, want about 600m", n0.Name, cpu)
	}
	if mem := n0.Usage.Memory().Value(); mem != 80<<20 {
		t.Errorf("node %s: memory %d, want 80 MiB", n0.Name, mem)
	}
}

// TestKubectlTop: real kubectl's top pods -A, top pod --containers and top nodes.
func TestKubectlTop(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		uptest.RequireE2E(t, "kubectl not found")
	}
	c := startCluster(t, 1)
	c.pod(t, "busy", c.nodes[0], map[string]string{"app": "web"}, "250m", "32Mi", "50m", "8Mi")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", c.srv.Kubeconfig}, args...)...)
		cmd.Env = append(os.Environ(), "KUBECACHEDIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	var out string
	uptest.Eventually(t, 30*time.Second, "kubectl top pods -A", func() bool {
		out, err = run("top", "pods", "-A")
		return err == nil && strings.Contains(out, "busy")
	})
	t.Logf("kubectl top pods -A:\n%s", out)
	if f := fields(out, "busy"); len(f) != 4 || f[0] != "default" || !near(f[2], 300) || f[3] != "40Mi" {
		t.Errorf("top pods -A row %q, want default busy 300m 40Mi", f)
	}
	out, err = run("top", "pod", "busy", "--containers")
	if err != nil {
		t.Fatalf("top pod --containers: %v\n%s", err, out)
	}
	t.Logf("kubectl top pod busy --containers:\n%s", out)
	for _, want := range []struct {
		ctr string
		cpu int64
		mem string
	}{{"c0", 250, "32Mi"}, {"c1", 50, "8Mi"}} {
		if f := fields(out, "busy "+want.ctr); len(f) != 4 || !near(f[2], want.cpu) || f[3] != want.mem {
			t.Errorf("top pod --containers row %q, want busy %s %dm %s", f, want.ctr, want.cpu, want.mem)
		}
	}
	uptest.Eventually(t, 30*time.Second, "kubectl top nodes", func() bool {
		out, err = run("top", "nodes")
		return err == nil && strings.Contains(out, c.nodes[0])
	})
	t.Logf("kubectl top nodes:\n%s", out)
	if f := fields(out, c.nodes[0]); len(f) != 5 || !near(f[1], 300) || f[3] != "40Mi" {
		t.Errorf("top nodes row %q, want %s 300m N%% 40Mi N%%", f, c.nodes[0])
	}
	if out, err := run("top", "pods", "-n", "default", "-l", "app=none"); err != nil || !strings.Contains(out, "No resources found") {
		t.Errorf("top pods -l app=none: %v %s", err, out)
	}
}

// fields returns the words of the first line of out containing prefix (as whole words).
func fields(out, prefix string) []string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		p := strings.Fields(prefix)
		if len(f) >= len(p) && strings.Join(f[:len(p)], " ") == prefix {
			return f
		}
		if len(f) > len(p) && strings.Join(f[1:len(p)+1], " ") == prefix {
			return f
		}
	}
	return nil
}

// near reports whether a kubectl CPU cell ("301m") is within 5m of milli.
func near(cell string, milli int64) bool {
	n, err := strconv.ParseInt(strings.TrimSuffix(cell, "m"), 10, 64)
	return err == nil && n >= milli-5 && n <= milli+5
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
