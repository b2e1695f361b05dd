package provider

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/rbac"
)

const (
	jUser  = "drover"
	jToken = "0123456789abcdef0123456789abcdef"
)

type fixture struct {
	t    *testing.T
	ctx  context.Context
	kube kubernetes.Interface // the admin's
	// provKube is the provider's own client (user rbac.JenkinsProvider).
	provKube kubernetes.Interface
	jk       *jenkinstest.Server
	jc       jenkins.Client
	clock    *clocktesting.FakeClock
	rec      *record.FakeRecorder
	metrics  *Metrics
	cfg      *config.Config
	p        *Provider
}

// newFixture starts a real API server and a fake Jenkins and builds a
// Provider over them with cfg (url filled in) and a fake clock.
func newFixture(t *testing.T, cfg *config.Config) *fixture {
	t.Helper()
	return newFixtureWith(t, cfg, jenkinstest.Options{})
}

// newFixtureWith is newFixture with a fake Jenkins started with opts.
func newFixtureWith(t *testing.T, cfg *config.Config, opts jenkinstest.Options) *fixture {
	t.Helper()
	api := apiservertest.Start(t)
	kube, kerr := kubernetes.NewForConfig(api.Config)
	if kerr != nil {
		t.Fatal(kerr)
	}
	// The provider acts as its own user under RBAC, as the controller manager runs it: every
	// test below also checks that its ClusterRole is enough.
	pcfg := rest.CopyConfig(api.Config)
	pcfg.Impersonate = rest.ImpersonationConfig{UserName: rbac.JenkinsProvider}
	provKube, kerr := kubernetes.NewForConfig(pcfg)
	if kerr != nil {
		t.Fatal(kerr)
	}
	jk, err := jenkinstest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(jk.Close)
	jk.AddUser(jUser, "pw", jToken)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	jc, err := jenkins.NewGojenkins(ctx, jenkins.Config{URL: jk.URL(), User: jUser, APIToken: jToken})
	if err != nil {
		t.Fatal(err)
	}
	cfg.URL = jk.URL()
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	f := &fixture{t: t, ctx: ctx, kube: kube, provKube: provKube, jk: jk, jc: jc, cfg: cfg,
		clock: clocktesting.NewFakeClock(time.Now()), rec: record.NewFakeRecorder(1000), metrics: NewMetrics(nil)}
	f.p = f.newProvider()
	return f
}

func (f *fixture) newProvider() *Provider {
	f.t.Helper()
	p, err := New(Options{Config: f.cfg, Jenkins: f.jc, Kube: f.provKube, Clock: f.clock, Recorder: f.rec, Metrics: f.metrics})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// sync runs one poll and fails the test on error.
func (f *fixture) sync() {
	f.t.Helper()
	if err := f.p.Sync(f.ctx); err != nil {
		f.t.Fatalf("Sync: %v", err)
	}
}

// step advances the fake clock by d, then syncs.
func (f *fixture) step(d time.Duration) {
	f.t.Helper()
	f.clock.Step(d)
	f.sync()
}

func (f *fixture) post(path, ctype, body string) int {
	f.t.Helper()
	resp, _, err := f.jk.Do(jUser, jToken, http.MethodPost, path, ctype, body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode
}

// queue creates a concurrent freestyle job tied to label and queues n builds.
func (f *fixture) queue(job, label string, n int) {
	f.t.Helper()
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(label))
	cfg := "<project><assignedNode>" + esc.String() + "</assignedNode><canRoam>false</canRoam><concurrentBuild>true</concurrentBuild></project>"
	if code := f.post("/createItem?name="+job, "application/xml", cfg); code != http.StatusOK {
		f.t.Fatalf("createItem %s: %d", job, code)
	}
	for i := 0; i < n; i++ {
		if code := f.post("/job/"+job+"/build?delay=0sec", "", ""); code != http.StatusCreated {
			f.t.Fatalf("build %s: %d", job, code)
		}
	}
}

// pods lists the agent pods (deleted ones excluded).
func (f *fixture) pods() []corev1.Pod {
	f.t.Helper()
	l, err := f.kube.CoreV1().Pods("default").List(f.ctx, metav1.ListOptions{LabelSelector: render.LabelTemplate})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// nodes lists the Jenkins agent node names (built-in node excluded).
func (f *fixture) nodes() []string {
	f.t.Helper()
	cs, err := f.jc.Computers(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		if c.Name != "Built-In Node" {
			out = append(out, c.Name)
		}
	}
	return out
}

// setPod rewrites a pod's status.
func (f *fixture) setPod(name string, mutate func(*corev1.PodStatus)) {
	f.t.Helper()
	pod, err := f.kube.CoreV1().Pods("default").Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	mutate(&pod.Status)
	if _, err := f.kube.CoreV1().Pods("default").UpdateStatus(f.ctx, pod, metav1.UpdateOptions{}); err != nil {
		f.t.Fatalf("update status %s: %v", name, err)
	}
}

// connectAll connects the agent of every pod.
func (f *fixture) connectAll() {
	f.t.Helper()
	for _, p := range f.pods() {
		if err := f.jk.ConnectAgent(p.Name); err != nil {
			f.t.Fatal(err)
		}
	}
}

func docker(name string) config.Template {
	return config.Template{Name: name, Label: "docker linux", Image: "jenkins/inbound-agent:latest"}
}

func oneTemplate(t config.Template) *config.Config {
	return &config.Config{Templates: []config.Template{t}}
}

// testutilCount is the number of observations of a histogram's series.
func testutilCount(h *prometheus.HistogramVec, labels ...string) uint64 {
	var m dto.Metric
	if err := h.WithLabelValues(labels...).(prometheus.Metric).Write(&m); err != nil {
		return 0
	}
	return m.GetHistogram().GetSampleCount()
}

// testutilCounter is the value of the failure counter of template and reason.
func testutilCounter(m *Metrics, template, reason string) float64 {
	var out dto.Metric
	if err := m.Failures.WithLabelValues(template, reason).Write(&out); err != nil {
		return -1
	}
	return out.GetCounter().GetValue()
}

// metricValue is the value of a gauge or counter.
func metricValue(m prometheus.Metric) float64 {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		return -1
	}
	if out.Gauge != nil {
		return out.Gauge.GetValue()
	}
	return out.GetCounter().GetValue()
}
