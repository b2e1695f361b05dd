package nodeagent_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"github.com/drover-ci/drover/cluster/apiserver"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dockerclient "github.com/docker/docker/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/container/docker"
	"github.com/drover-ci/drover/cluster/nodeagent"
	"github.com/drover-ci/drover/cluster/volume"
	"github.com/drover-ci/drover/internal/proctest"
)

// The e2e tests run pods on a real Docker engine (DOCKER_HOST, else drover's private engine
// of scripts/docker-up.sh). Their pods join e2eNetwork, a subnet of its own so that they never
// meet the pods of `drover up` (10.88.0.0/16) or the runtime's tests.
const (
	e2eNetwork = "drover-e2e"
	e2eSubnet  = "10.89.0.0/16"

	imgServer = "drover/testserver:1"
	imgExit   = "drover/exit:1"
	imgPause  = "drover/pause:1"
)

var e2eDocker struct {
	once sync.Once
	rt   *docker.Runtime
	err  error
}

// e2eRuntime returns the Docker runtime with the test images built, or ends the test: with
// DROVER_E2E=1 a missing engine fails it, otherwise it is skipped.
func e2eRuntime(t *testing.T) *docker.Runtime {
	t.Helper()
	e2eDocker.once.Do(func() {
		proctest.UsePrivateDocker()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		rt, err := docker.New(ctx)
		if err != nil {
			e2eDocker.err = err
			return
		}
		if err := docker.BuildTestImages(ctx, rt.Client(), false); err != nil {
			e2eDocker.err = fmt.Errorf("test images: %w", err)
			return
		}
		e2eDocker.rt = rt
	})
	if e2eDocker.err != nil {
		if os.Getenv("DROVER_E2E") == "1" {
			t.Fatalf("Docker engine (DOCKER_HOST=%s): %v", os.Getenv("DOCKER_HOST"), e2eDocker.err)
		}
		t.Skipf("no Docker engine (DOCKER_HOST=%s): %v", os.Getenv("DOCKER_HOST"), e2eDocker.err)
	}
	return e2eDocker.rt
}

// e2e is one test's cluster: an API server and one node agent on the real engine.
type e2e struct {
	t       *testing.T
	srv     *apiservertest.Server
	client  kubernetes.Interface
	rt      *docker.Runtime
	node    string
	volRoot string
}

// e2eOptions adjust the node agent of a test.
type e2eOptions struct {
	network, subnet string
	pauseImage      string
	ensureImages    func(ctx context.Context) error
	noAgent         bool
	syncFrequency   time.Duration
	clusterDNS      string
}

// startE2E starts an API server and a node agent named after the test.
func startE2E(t *testing.T, opt e2eOptions) *e2e {
	t.Helper()
	rt := e2eRuntime(t)
	srv := apiservertest.Start(t)
	client, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, srv: srv, client: client, rt: rt, node: e2eNodeName(t), volRoot: t.TempDir()}
	t.Cleanup(e.removeContainers)
	if opt.noAgent {
		return e
	}
	if opt.network == "" {
		opt.network, opt.subnet = e2eNetwork, e2eSubnet
	}
	cfg := nodeagent.Config{
		NodeName: e.node, Client: client, Runtime: rt,
		Volumes: volume.NewManager(e.volRoot, client, e.node),
		Network: opt.network, Subnet: opt.subnet, PauseImage: opt.pauseImage, EnsureImages: opt.ensureImages,
		NodeIP: "127.0.0.1", Port: freePort(t),
		TLS:       nodeagent.ServerTLS{ClientCA: srv.PKI.CAPool(), Issue: srv.PKI.IssueServing},
		Heartbeat: 2 * time.Second, Relist: 500 * time.Millisecond, SyncFrequency: opt.syncFrequency,
		ClusterDNS: opt.clusterDNS,
	}
	a, err := nodeagent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("agent did not stop within 20s")
		}
	})
	e.waitNodeReady()
	return e
}

// e2eNodeName is a node name unique to this test and process.
func e2eNodeName(t *testing.T) string {
	n := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(strings.TrimPrefix(t.Name(), "Test")))
	if len(n) > 40 {
		n = n[:40]
	}
	return fmt.Sprintf("e2e-%s-%d", strings.Trim(n, "-"), os.Getpid())
}

// servingCertFiles writes a serving certificate for hosts issued from pki, and its key, as PEM
// files in dir, for a `drover node --tls-cert-file` process.
func servingCertFiles(t *testing.T, pki *apiserver.PKI, dir string, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	c, err := pki.IssueServing("drover-node", hosts)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")
	var certPEM []byte
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
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

func (e *e2e) waitNodeReady() {
	e.t.Helper()
	e.poll(30*time.Second, "node Ready", func() (bool, string) {
		n, err := e.client.CoreV1().Nodes().Get(context.Background(), e.node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, ""
			}
		}
		return false, fmt.Sprint(n.Status.Conditions)
	})
}

// removeContainers removes what the test's node left on the engine, and its volumes' mounts.
func (e *e2e) removeContainers() {
	ctx := context.Background()
	cs, err := e.rt.List(ctx, map[string]string{nodeagent.LabelNode: e.node})
	if err != nil {
		e.t.Logf("cleanup: list containers: %v", err)
	}
	for _, c := range cs {
		if err := e.rt.Remove(ctx, c.ID); err != nil {
			e.t.Logf("cleanup: remove %s: %v", c.Name, err)
		}
	}
	m := volume.NewManager(e.volRoot, e.client, e.node)
	uids, _ := m.PodUIDs()
	for _, uid := range uids {
		if err := m.Teardown(ctx, uid); err != nil {
			e.t.Logf("cleanup: volumes of %s: %v", uid, err)
		}
	}
}

// poll calls cond every 200ms until it holds, failing the test after timeout with cond's last
// explanation.
func (e *e2e) poll(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within %s; last: %s", what, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// create creates pod on this test's node in the default namespace.
func (e *e2e) create(pod *corev1.Pod) *corev1.Pod {
	e.t.Helper()
	pod.Namespace = "default"
	pod.Spec.NodeName = e.node
	out, err := e.client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	return out
}

func (e *e2e) get(name string) *corev1.Pod {
	e.t.Helper()
	p, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("get pod %s: %v", name, err)
	}
	return p
}

// waitPod polls pod name until cond holds and returns it.
func (e *e2e) waitPod(name string, timeout time.Duration, what string, cond func(p *corev1.Pod) bool) *corev1.Pod {
	e.t.Helper()
	var pod *corev1.Pod
	e.poll(timeout, "pod "+name+": "+what, func() (bool, string) {
		p, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		pod = p
		return cond(p), describeStatus(p)
	})
	return pod
}

// waitRunning waits until every container of pod name runs (and is ready).
func (e *e2e) waitRunning(name string) *corev1.Pod {
	e.t.Helper()
	return e.waitPod(name, 30*time.Second, "running and ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && podReady(p) && p.Status.PodIP != ""
	})
}

// The pod status helpers are the hollow tests' (hollow_helpers_test.go, package nodeagent).
var (
	podReady = nodeagent.IsReady
	status   = nodeagent.StatusOf
)

func waitingReason(p *corev1.Pod, name string) string {
	if w := status(p, name).State.Waiting; w != nil {
		return w.Reason
	}
	return ""
}

// describeStatus is a one-line account of a pod's status for failure messages.
func describeStatus(p *corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s ip=%s ready=%v", p.Status.Phase, p.Status.PodIP, podReady(p))
	for _, s := range p.Status.ContainerStatuses {
		fmt.Fprintf(&b, " [%s restarts=%d", s.Name, s.RestartCount)
		switch st := s.State; {
		case st.Running != nil:
			b.WriteString(" running")
		case st.Waiting != nil:
			fmt.Fprintf(&b, " waiting %s %q", st.Waiting.Reason, st.Waiting.Message)
		case st.Terminated != nil:
			fmt.Fprintf(&b, " terminated %s exit=%d", st.Terminated.Reason, st.Terminated.ExitCode)
		}
		b.WriteString("]")
	}
	return b.String()
}

// containers lists the engine's containers of this node's pod uid ("" for all of the node).
func (e *e2e) containers(uid string) []container.Container {
	e.t.Helper()
	match := map[string]string{nodeagent.LabelNode: e.node}
	if uid != "" {
		match[nodeagent.LabelPodUID] = uid
	}
	cs, err := e.rt.List(context.Background(), match)
	if err != nil {
		e.t.Fatalf("list containers: %v", err)
	}
	return cs
}

// events returns "Reason: message" of the events about pod name.
func (e *e2e) events(name string) []string {
	e.t.Helper()
	list, err := e.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatalf("list events: %v", err)
	}
	var out []string
	for _, ev := range list.Items {
		if ev.InvolvedObject.Kind == "Pod" && ev.InvolvedObject.Name == name {
			out = append(out, ev.Reason+": "+ev.Message)
		}
	}
	return out
}

// waitEvent waits for an event about pod name whose "Reason: message" contains each of want.
func (e *e2e) waitEvent(name string, want ...string) {
	e.t.Helper()
	e.poll(15*time.Second, fmt.Sprintf("event %q of pod %s", want, name), func() (bool, string) {
		evs := e.events(name)
		for _, ev := range evs {
			all := true
			for _, w := range want {
				all = all && strings.Contains(ev, w)
			}
			if all {
				return true, ""
			}
		}
		return false, strings.Join(evs, "; ")
	})
}

// kubectl runs the real kubectl against the test's API server.
func (e *e2e) kubectl(args ...string) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", e.srv.Kubeconfig}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// httpDo sends method to http://IP:PORT/PATH (a pod's address, reachable from the host over
// the bridge) and returns the status and body.
func httpDo(method, url string) (int, string, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// mustHTTP is httpDo that wants a 200.
func mustHTTP(t *testing.T, method, url string) string {
	t.Helper()
	code, body, err := httpDo(method, url)
	if err != nil || code != http.StatusOK {
		t.Fatalf("%s %s: %d %q %v", method, url, code, body, err)
	}
	return body
}

// dockerCLI is the raw Docker client (for what the Runtime does not offer).
func (e *e2e) dockerCLI() *dockerclient.Client { return e.rt.Client() }

// Pod builders.

func testPod(name string, cs ...corev1.Container) *corev1.Pod {
	grace := int64(2)
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: cs, TerminationGracePeriodSeconds: &grace}}
}

func serverContainer(name string, port int, env ...corev1.EnvVar) corev1.Container {
	return corev1.Container{Name: name, Image: imgServer, ImagePullPolicy: corev1.PullNever,
		Env: append([]corev1.EnvVar{{Name: "PORT", Value: fmt.Sprint(port)}}, env...)}
}

func exitContainer(name string, env map[string]string, args ...string) corev1.Container {
	c := corev1.Container{Name: name, Image: imgExit, ImagePullPolicy: corev1.PullNever, Args: args}
	for k, v := range env {
		c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: v})
	}
	return c
}
