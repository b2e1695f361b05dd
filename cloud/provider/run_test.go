package provider

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

func TestRunPollsAndStops(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- f.p.Run(ctx) }()
	f.queue("job", "docker", 2)
	deadline := time.Now().Add(30 * time.Second)
	for len(f.pods()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not launch the agents")
		}
		f.clock.Step(time.Second) // the ticker fires on the fake clock
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if n := len(f.pods()); n != 2 {
		t.Errorf("pods %d, want 2", n)
	}
}

// BenchmarkQueueToPod measures queue item visible (build triggered) → its
// agent pod created, with the default 1 s poll interval, against a real API
// server and the fake Jenkins; it reports p50 and p99 in milliseconds.
func BenchmarkQueueToPod(b *testing.B) {
	api := apiservertest.Start(b)
	kube, err := kubernetes.NewForConfig(api.Config)
	if err != nil {
		b.Fatal(err)
	}
	jk := jenkinstest.New()
	b.Cleanup(jk.Close)
	jk.AddUser(jUser, "pw", jToken)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	jc, err := jenkins.NewGojenkins(ctx, jenkins.Config{URL: jk.URL(), User: jUser, APIToken: jToken})
	if err != nil {
		b.Fatal(err)
	}
	cfg := &config.Config{URL: jk.URL(), Templates: []config.Template{docker("docker")}}
	cfg.Default()
	p, err := New(Options{Config: cfg, Jenkins: jc, Kube: kube, MaxPending: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	post := func(path, ctype, body string) *http.Response {
		resp, _, err := jk.Do(jUser, jToken, http.MethodPost, path, ctype, body)
		if err != nil {
			b.Fatal(err)
		}
		return resp
	}
	post("/createItem?name=bench", "application/xml",
		"<project><assignedNode>docker</assignedNode><concurrentBuild>true</concurrentBuild></project>")
	w, err := kube.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: render.LabelQueueItem})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	go func() { _ = p.Run(ctx) }()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Enqueue at a random phase of the poll.
		time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
		start := time.Now()
		resp := post("/job/bench/build?delay=0sec", "", "")
		loc := strings.TrimSuffix(resp.Header.Get("Location"), "/")
		id := loc[strings.LastIndex(loc, "/")+1:]
		var pod *corev1.Pod
		for pod == nil {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.Fatal("watch ended")
				}
				if po, isPod := ev.Object.(*corev1.Pod); isPod && ev.Type == watch.Added && po.Labels[render.LabelQueueItem] == id {
					pod = po
				}
			case <-time.After(30 * time.Second):
				b.Fatalf("no pod for queue item %s within 30 s", id)
			}
		}
		lat = append(lat, time.Since(start))
		// Clean up so the next item is not covered by this agent.
		n, _ := strconv.ParseInt(id, 10, 64)
		_ = jc.CancelQueueItem(ctx, n)
		grace := int64(0)
		_ = kube.CoreV1().Pods("default").Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
		_ = jc.DeleteNode(ctx, pod.Name)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// stallClient's Queue blocks until its context ends, as a Jenkins that
// accepts the connection and never answers.
type stallClient struct{ jenkins.Client }

func (stallClient) Queue(ctx context.Context) ([]jenkins.QueueItem, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestRunBoundsAStalledSync(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	opts := f.p.opts
	opts.Jenkins = stallClient{f.jc}
	opts.SyncTimeout = 200 * time.Millisecond
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Status().JenkinsError, "did not finish within 200ms") ||
		!strings.Contains(p.Status().JenkinsError, "deadline exceeded") {
		if time.Now().After(deadline) {
			t.Fatalf("a stalled Jenkins left no error in the status: %q", p.Status().JenkinsError)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		cm, err := f.kube.CoreV1().ConfigMaps("default").Get(f.ctx, StatusConfigMap, metav1.GetOptions{})
		if err == nil && strings.Contains(cm.Data[StatusKey], "did not finish within") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status ConfigMap without the error (%v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The loop goes on: the next poll (on the fake ticker) stalls and ends too.
	f.clock.Step(time.Second)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}
