package runner

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
	"github.com/drover-ci/drover/cloud/provider"
	"github.com/drover-ci/drover/cluster/controller"

	"github.com/drover-ci/drover/internal/logtest"
)

func TestReporterBacksOff(t *testing.T) {
	p := reporter{delay: time.Second}
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	var reported []time.Duration
	for s := time.Duration(0); s <= 40*time.Second; s += time.Second {
		if report, _ := p.failed(t0.Add(s), "connection refused", 8*time.Second); report {
			reported = append(reported, s)
		}
	}
	want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second, 23 * time.Second, 31 * time.Second, 39 * time.Second}
	if len(reported) != len(want) {
		t.Fatalf("reports at %v, want %v", reported, want)
	}
	for i := range want {
		if reported[i] != want[i] {
			t.Fatalf("reports at %v, want %v", reported, want)
		}
	}
	if _, changed := p.failed(t0.Add(41*time.Second), "connection refused", 8*time.Second); changed {
		t.Error("same error reported as changed")
	}
	if _, changed := p.failed(t0.Add(42*time.Second), "401", 8*time.Second); !changed {
		t.Error("a new error not reported as changed")
	}
}

func TestDefaultProbeEvery(t *testing.T) {
	c, err := New(Config{})(controller.Context{})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.(*Runner); r.cfg.ProbeEvery > time.Second || r.cfg.RetryMax != 30*time.Second {
		t.Errorf("ProbeEvery %v RetryMax %v", r.cfg.ProbeEvery, r.cfg.RetryMax)
	}
}

// Jenkins starts answering only after the report back-off has grown: the provider still
// starts within a probe interval of it, and the warnings stay backed off.
func TestStartsSoonAfterJenkinsAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing answers there yet
	cfg := mustLoad(t, "url: http://"+addr+"\ncredentials: {user: admin, tokenEnv: JT}\n")
	var attempts atomic.Int32
	started := make(chan time.Time, 1)
	logs := &logtest.Buffer{}
	c, err := New(Config{Static: cfg, Getenv: func(string) string { return token },
		RetryMin: 100 * time.Millisecond, RetryMax: 5 * time.Second, ProbeEvery: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Connect: func(ctx context.Context, c jenkins.Config) (jenkins.Client, error) {
			attempts.Add(1)
			return jenkins.NewGojenkins(ctx, c)
		},
		Start: func(o provider.Options) (Runnable, error) {
			started <- time.Now()
			return &fakeProvider{opts: o, stopped: make(chan struct{})}, nil
		}})(controller.Context{Client: fake.NewSimpleClientset()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// Reports at 0, .1, .3, .7, 1.5 s: the back-off is 1.6 s when Jenkins comes up at 1.6 s,
	// so without probing the next attempt would come at 3.1 s.
	time.Sleep(1600 * time.Millisecond)
	srv, err := jenkinstest.Start(jenkinstest.Options{Addr: addr, Users: []jenkinstest.User{{Name: "admin", Token: token}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	up := time.Now()
	select {
	case at := <-started:
		if d := at.Sub(up); d > 500*time.Millisecond {
			t.Errorf("provider started %v after Jenkins answered", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("provider not started; logs:\n%s", logs)
	}
	warnings := strings.Count(logs.String(), "provider not running")
	if n := attempts.Load(); n < 15 || warnings > 6 || warnings < 3 {
		t.Errorf("%d attempts, %d warnings; want probing every 50 ms with backed-off warnings:\n%s", n, warnings, logs)
	}
}
