package runner

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
	"github.com/drover-ci/drover/cloud/provider"
	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/store/memstore"
	"github.com/drover-ci/drover/internal/uptest"

	"github.com/drover-ci/drover/internal/logtest"
)

const token = "11deadbeefdeadbeefdeadbeefdeadbeef" // the fake Jenkins' API token for admin

// fakeProvider stands in for the provider: it reports its options when started and when it
// stops.
type fakeProvider struct {
	opts    provider.Options
	stopped chan struct{}
}

func (f *fakeProvider) Run(ctx context.Context) error {
	<-ctx.Done()
	close(f.stopped)
	return nil
}

type harness struct {
	t        *testing.T
	kube     kubernetes.Interface
	jenkins  *jenkinstest.Server
	started  chan *fakeProvider
	recorder *record.FakeRecorder
	logs     *logtest.Buffer
	runner   *Runner
	reg      *prometheus.Registry
}

func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	// The Service jenkins points at the fake Jenkins on 127.0.0.1 as its cluster IP: the API
	// server allocates cluster IPs in its create path and refuses one outside its range.
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{ServiceCIDR: "127.0.0.0/24"})
	kube, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, kube: kube, jenkins: jenkinstest.New(), started: make(chan *fakeProvider, 10),
		recorder: record.NewFakeRecorder(100), logs: &logtest.Buffer{}, reg: prometheus.NewRegistry()}
	t.Cleanup(h.jenkins.Close)
	h.jenkins.AddUser("admin", "password", token)
	cfg.Registerer = h.reg
	cfg.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.RetryMin, cfg.RetryMax = 50*time.Millisecond, 200*time.Millisecond
	cfg.Start = func(o provider.Options) (Runnable, error) {
		f := &fakeProvider{opts: o, stopped: make(chan struct{})}
		h.started <- f
		return f, nil
	}
	c, err := New(cfg)(controller.Context{Client: kube, Recorder: func(string) record.EventRecorder { return h.recorder }})
	if err != nil {
		t.Fatal(err)
	}
	h.runner = c.(*Runner)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("runner did not stop")
		}
	})
	return h
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// jenkinsService creates namespace ns with the Service jenkins whose cluster IP is the fake
// Jenkins' loopback address and whose port is its port, and the Secret jenkins-admin.
func (h *harness) jenkinsService(ns string) (port int) {
	h.t.Helper()
	ctx := ctxT(h.t)
	u, _ := url.Parse(h.jenkins.URL())
	port, _ = strconv.Atoi(u.Port())
	if _, err := h.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "jenkins", Namespace: ns},
		Spec: corev1.ServiceSpec{ClusterIP: "127.0.0.1", Selector: map[string]string{"app": "jenkins"},
			Ports: []corev1.ServicePort{{Name: "http", Port: int32(port)}}}}
	if _, err := h.kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.readyEndpoints(ns)
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-admin", Namespace: ns},
		Data: map[string][]byte{"user": []byte("admin"), "token": []byte(token)}}
	if _, err := h.kube.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	return port
}

// readyEndpoints gives the Service jenkins in ns a ready address, as the endpoints controller
// does once the Jenkins pod is Ready.
func (h *harness) readyEndpoints(ns string) {
	h.t.Helper()
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "jenkins", Namespace: ns},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.244.0.9"}}}}}
	if _, err := h.kube.CoreV1().Endpoints(ns).Create(ctxT(h.t), ep, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) writeConfig(yaml string) {
	h.t.Helper()
	ctx := ctxT(h.t)
	cms := h.kube.CoreV1().ConfigMaps(ConfigNamespace)
	cm, err := cms.Get(ctx, ConfigMapName, metav1.GetOptions{})
	if err != nil {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: ConfigNamespace},
			Data: map[string]string{ConfigKey: yaml}}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	cm.Data = map[string]string{ConfigKey: yaml}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) waitStarted() *fakeProvider {
	h.t.Helper()
	select {
	case f := <-h.started:
		return f
	case <-time.After(20 * time.Second):
		h.t.Fatalf("provider not started; logs:\n%s", h.logs.String())
	}
	return nil
}

func waitStopped(t *testing.T, f *fakeProvider) {
	t.Helper()
	select {
	case <-f.stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("provider not stopped")
	}
}

func cloudConfig(port int, extra string) string {
	return "url: http://jenkins.ci.svc.cluster.local:" + strconv.Itoa(port) + "\n" +
		"credentials: {secret: jenkins-admin}\nnamespace: ci\n" +
		"templates: [{name: default, label: docker, image: jenkins/inbound-agent:latest-jdk17}]\n" + extra
}

// The ConfigMap appearing starts the provider with a Jenkins client that reached the fake
// Jenkins through the Service's cluster IP with the Secret's token; a change restarts it; its
// removal stops it.
func TestFollowsConfigMap(t *testing.T) {
	h := start(t, Config{})
	port := h.jenkinsService("ci")
	select {
	case <-h.started:
		t.Fatal("provider started without a configuration")
	case <-time.After(300 * time.Millisecond):
	}
	h.writeConfig(cloudConfig(port, ""))
	f := h.waitStarted()
	if got := f.opts.Config.URL; got != "http://jenkins.ci.svc.cluster.local:"+strconv.Itoa(port) {
		t.Errorf("Config.URL = %q", got)
	}
	if f.opts.Kube == nil || f.opts.Metrics == nil || f.opts.Recorder == nil {
		t.Errorf("options missing Kube, Metrics or Recorder: %+v", f.opts)
	}
	// The client is authenticated with the token: listing computers needs it.
	if _, err := f.opts.Jenkins.Computers(ctxT(t)); err != nil {
		t.Errorf("Computers through the runner's client: %v", err)
	}
	// The fake's Start hands the provider over before the runner marks it running.
	for deadline := time.Now().Add(10 * time.Second); !h.runner.Running(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Running() = false with a provider running")
		}
	}
	h.writeConfig(cloudConfig(port, "pollInterval: 2s\n"))
	waitStopped(t, f)
	f2 := h.waitStarted()
	if got := f2.opts.Config.PollInterval.Duration; got != 2*time.Second {
		t.Errorf("restarted provider pollInterval = %v, want 2s", got)
	}
	if err := h.kube.CoreV1().ConfigMaps(ConfigNamespace).Delete(ctxT(t), ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, f2)
	if strings.Contains(h.logs.String(), token) {
		t.Errorf("the token appears in the logs:\n%s", h.logs.String())
	}
}

// An invalid configuration is refused with the field named in an event; nothing starts.
func TestInvalidConfigMap(t *testing.T) {
	h := start(t, Config{})
	h.writeConfig("url: http://j:8080\ntemplates: [{name: a}]\n")
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-h.recorder.Events:
			if !strings.Contains(e, "InvalidConfig") || !strings.Contains(e, "templates[0].image: required") {
				t.Fatalf("event = %q, want InvalidConfig naming templates[0].image", e)
			}
			select {
			case <-h.started:
				t.Fatal("provider started with an invalid configuration")
			default:
			}
			return
		case <-deadline:
			t.Fatalf("no event; logs:\n%s", h.logs.String())
		}
	}
}

// The order a first install creates things in: the cloud ConfigMap before the Service, then
// the Service before its pod is Ready. The runner waits through both — Normal
// WaitingForJenkins events and the reason in the status, never a ProviderFailed warning or a
// bare EOF — and starts the provider once the Service has a ready endpoint.
func TestWaitsForServiceAndEndpoints(t *testing.T) {
	h := start(t, Config{})
	ctx := ctxT(t)
	u, _ := url.Parse(h.jenkins.URL())
	port, _ := strconv.Atoi(u.Port())
	if _, err := h.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ci"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-admin", Namespace: "ci"},
		Data: map[string][]byte{"user": []byte("admin"), "token": []byte(token)}}
	if _, err := h.kube.CoreV1().Secrets("ci").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.writeConfig(cloudConfig(port, ""))
	statusSays := func(want string) {
		t.Helper()
		uptest.Eventually(t, 20*time.Second, "status error containing "+want, func() bool {
			cm, err := h.kube.CoreV1().ConfigMaps("ci").Get(ctx, provider.StatusConfigMap, metav1.GetOptions{})
			var st provider.Status
			return err == nil && json.Unmarshal([]byte(cm.Data[provider.StatusKey]), &st) == nil &&
				strings.Contains(st.JenkinsError, want)
		})
	}
	statusSays("Service ci/jenkins does not exist yet")
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "jenkins", Namespace: "ci"},
		Spec: corev1.ServiceSpec{ClusterIP: "127.0.0.1", Selector: map[string]string{"app": "jenkins"},
			Ports: []corev1.ServicePort{{Name: "http", Port: int32(port)}}}}
	if _, err := h.kube.CoreV1().Services("ci").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	statusSays("Service ci/jenkins has no ready endpoints yet")
	select {
	case <-h.started:
		t.Fatal("provider started without a ready endpoint")
	default:
	}
	h.readyEndpoints("ci")
	h.waitStarted()
	var waiting int
	for len(h.recorder.Events) > 0 {
		ev := <-h.recorder.Events
		if strings.Contains(ev, "ProviderFailed") {
			t.Errorf("event %q while Jenkins was being installed", ev)
		}
		if strings.HasPrefix(ev, "Normal WaitingForJenkins") {
			waiting++
		}
	}
	if waiting == 0 {
		t.Error("no Normal WaitingForJenkins event")
	}
}

// A wrong token: Jenkins refuses, the runner retries, the error is in the status ConfigMap,
// and the token is in neither the status, the events nor the logs.
func TestJenkinsErrorInStatus(t *testing.T) {
	const wrong = "11ffffffffffffffffffffffffffffffff"
	h := start(t, Config{})
	port := h.jenkinsService("ci")
	sec, _ := h.kube.CoreV1().Secrets("ci").Get(ctxT(t), "jenkins-admin", metav1.GetOptions{})
	sec.Data["token"] = []byte(wrong)
	if _, err := h.kube.CoreV1().Secrets("ci").Update(ctxT(t), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.writeConfig(cloudConfig(port, ""))
	var st provider.Status
	deadline := time.Now().Add(20 * time.Second)
	for {
		cm, err := h.kube.CoreV1().ConfigMaps("ci").Get(ctxT(t), provider.StatusConfigMap, metav1.GetOptions{})
		if err == nil {
			if err := json.Unmarshal([]byte(cm.Data[provider.StatusKey]), &st); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(st.JenkinsError, "401") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 401 in the status (%+v, %v); logs:\n%s", st, err, h.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Namespace != "ci" || len(st.Templates) != 1 || st.Templates[0].Name != "default" {
		t.Errorf("status = %+v", st)
	}
	// Fix the token: the next retry starts the provider.
	sec, _ = h.kube.CoreV1().Secrets("ci").Get(ctxT(t), "jenkins-admin", metav1.GetOptions{})
	sec.Data["token"] = []byte(token)
	if _, err := h.kube.CoreV1().Secrets("ci").Update(ctxT(t), sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitStarted()
	var events []string
	for len(h.recorder.Events) > 0 {
		events = append(events, <-h.recorder.Events)
	}
	all := h.logs.String() + strings.Join(events, "\n") + st.JenkinsError
	if strings.Contains(all, wrong) || strings.Contains(all, token) {
		t.Errorf("a token leaked:\n%s", all)
	}
}

// A static configuration (drover's configuration file) starts at once, its token from the
// environment.
func TestStaticConfig(t *testing.T) {
	h := start(t, Config{})
	_ = h // the harness' runner follows the ConfigMap; build a static one on the same API
	srv := h.jenkins
	cfg := mustLoad(t, "url: "+srv.URL()+"\ncredentials: {user: admin, tokenEnv: JT}\n")
	c, err := New(Config{Static: cfg, Getenv: func(k string) string {
		if k == "JT" {
			return token
		}
		return ""
	}, Start: func(o provider.Options) (Runnable, error) {
		f := &fakeProvider{opts: o, stopped: make(chan struct{})}
		h.started <- f
		return f, nil
	}})(controller.Context{Client: h.kube})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = c.Run(ctx) }()
	f := h.waitStarted()
	if _, err := f.opts.Jenkins.Queue(ctxT(t)); err != nil {
		t.Errorf("Queue through the static runner's client: %v", err)
	}
	cancel()
	waitStopped(t, f)
}

func TestServiceHost(t *testing.T) {
	for _, tc := range []struct {
		host, name, ns string
		must           bool
	}{
		{"jenkins.ci.svc.cluster.local", "jenkins", "ci", true},
		{"jenkins.ci.svc.cluster.local.", "jenkins", "ci", true},
		{"jenkins.ci.svc", "jenkins", "ci", true},
		{"jenkins.ci", "jenkins", "ci", false},
		{"jenkins", "", "", false},
		{"ci.example.com", "", "", false},
		{"10.96.0.12", "", "", false},
	} {
		name, ns, must := ServiceHost(tc.host)
		if name != tc.name || ns != tc.ns || must != tc.must {
			t.Errorf("ServiceHost(%q) = %q %q %v, want %q %q %v", tc.host, name, ns, must, tc.name, tc.ns, tc.must)
		}
	}
}

func TestResolveURL(t *testing.T) {
	h := start(t, Config{})
	port := h.jenkinsService("ci")
	p := strconv.Itoa(port)
	for _, tc := range []struct{ in, want, err string }{
		{"http://jenkins.ci.svc.cluster.local:" + p + "/", "http://127.0.0.1:" + p + "/", ""},
		{"http://jenkins.ci.svc:" + p, "http://127.0.0.1:" + p, ""},
		{"https://jenkins.ci/x", "https://127.0.0.1/x", ""},
		{"http://jenkins.other/", "http://jenkins.other/", ""},                   // no such Service: a host name
		{"http://example.com:8080/", "http://example.com:8080/", ""},             // no such Service either
		{"http://jenkins.nope.svc.cluster.local:8080", "", "does not exist yet"}, // must be a Service
	} {
		got, err := h.runner.resolveURL(ctxT(t), tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("resolveURL(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("resolveURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// /metrics of drover's API server shows the runner's and the provider's metrics.
func TestMetricsServed(t *testing.T) {
	reg := prometheus.NewRegistry()
	ctor := New(Config{Registerer: reg})
	c, err := ctor(controller.Context{})
	if err != nil {
		t.Fatal(err)
	}
	r := c.(*Runner)
	r.m.provider.Launched.WithLabelValues("default").Inc()
	r.m.provider.Stage.WithLabelValues("default", provider.StageConnected).Observe(3.2)
	srv, err := apiserver.New(apiserver.Config{Store: memstore.New(), Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		"drover_jenkins_provider_up 0",
		"drover_jenkins_provider_starts_total 0",
		`drover_jenkins_agents_launched_total{template="default"} 1`,
		`drover_jenkins_provisioning_stage_seconds_bucket{stage="connected",template="default",le="5"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	// A second construction (a new leadership term) registers nothing twice
	// with reg (MustRegister would panic).
	if _, err := ctor(controller.Context{}); err != nil {
		t.Fatal(err)
	}
}
