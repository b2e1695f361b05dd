package hollow

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/probe"
)

func TestExec(t *testing.T) {
	r, _ := newFake(t, Options{Scripts: map[string]Script{"app": {
		Exec:         map[string]container.ExecResult{"cat /ready": {ExitCode: 0, Output: []byte("yes")}},
		ExecExitCode: 7,
	}}})
	ctx := context.Background()
	id := run(t, r, "c", "app")
	exec := func(cmd ...string) (int, string) {
		res, err := r.Exec(ctx, id, cmd, time.Second)
		if err != nil {
			t.Fatalf("Exec(%v): %v", cmd, err)
		}
		return res.ExitCode, string(res.Output)
	}
	if code, out := exec("cat", "/ready"); code != 0 || out != "yes" {
		t.Errorf("scripted exec = %d %q", code, out)
	}
	if code, _ := exec("other"); code != 7 {
		t.Errorf("unscripted exec = %d, want ExecExitCode 7", code)
	}
	if err := r.SetExecResult("c", []string{"cat", "/ready"}, 1, "gone"); err != nil {
		t.Fatal(err)
	}
	if code, out := exec("cat", "/ready"); code != 1 || out != "gone" {
		t.Errorf("switched exec = %d %q", code, out)
	}
	envID := run(t, r, "e", "plain", "HOLLOW_EXEC_EXIT_CODE=3")
	if res, err := r.Exec(ctx, envID, []string{"x"}, time.Second); err != nil || res.ExitCode != 3 {
		t.Errorf("HOLLOW_EXEC_EXIT_CODE: %+v, %v", res, err)
	}
	r.Stop(ctx, id, 0)
	if _, err := r.Exec(ctx, id, []string{"cat", "/ready"}, time.Second); err == nil {
		t.Errorf("Exec in an exited container succeeded")
	}
	if _, err := r.Exec(ctx, "nope", []string{"x"}, time.Second); !errors.Is(err, container.ErrNotFound) {
		t.Errorf("Exec in a missing container: %v", err)
	}
}

func TestExecTimeoutOnClock(t *testing.T) {
	r, fc := newFake(t, Options{})
	id := run(t, r, "c", "drover/exit:1", "SLEEP=inf")
	done := make(chan error, 1)
	go func() {
		_, err := r.Exec(context.Background(), id, []string{"/exit", "exec", "0", "30"}, 2*time.Second)
		done <- err
	}()
	waitTimer(t, fc)
	fc.Step(2 * time.Second)
	if err := recv(t, done); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec past its timeout: %v, want DeadlineExceeded", err)
	}
}

func TestProber(t *testing.T) {
	r, _ := newFake(t, Options{})
	ctx := context.Background()
	id := run(t, r, "web", "app")
	pr := r.Prober()
	target := probe.Target{PodIP: "10.0.0.2", ContainerID: id}
	httpGet := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}}
	tcp := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}}
	exec := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}}}
	expect := func(what string, p *corev1.Probe, want probe.Result) {
		t.Helper()
		if got, msg, err := pr.Probe(ctx, p, target); got != want || err != nil {
			t.Errorf("%s: %v (%q), %v; want %v", what, got, msg, err, want)
		}
	}
	expect("http healthy", httpGet, probe.Success)
	expect("tcp", tcp, probe.Success)
	expect("exec default", exec, probe.Success)
	r.SetHTTPHealth("web", false)
	r.SetExecResult(id, []string{"check"}, 1, "bad")
	expect("http unhealthy", httpGet, probe.Failure)
	expect("tcp while http unhealthy", tcp, probe.Success)
	expect("exec switched", exec, probe.Failure)
	r.SetHTTPHealth(id, true)
	expect("http healthy again", httpGet, probe.Success)
	r.Stop(ctx, id, 0)
	expect("http of exited", httpGet, probe.Failure)
	expect("tcp of exited", tcp, probe.Failure)
	if got, _, err := pr.Probe(ctx, exec, target); got != probe.Unknown || err == nil {
		t.Errorf("exec of exited: %v, %v; want Unknown and an error", got, err)
	}
	unhealthy := run(t, r, "sick", "app", "HOLLOW_HTTP_HEALTHY=false")
	if got, _, _ := pr.Probe(ctx, httpGet, probe.Target{ContainerID: unhealthy}); got != probe.Failure {
		t.Errorf("HOLLOW_HTTP_HEALTHY=false: %v", got)
	}
}

// TestProberDrivesWorker checks that a probe.Worker over the hollow Prober sees a switched
// health answer: the seam the node agent's hollow mode uses.
func TestProberDrivesWorker(t *testing.T) {
	r, fc := newFake(t, Options{})
	id := run(t, r, "web", "app")
	changes := make(chan probe.Result, 4)
	w := probe.NewWorker(probe.WorkerConfig{
		Kind: probe.Liveness, Clock: fc, Prober: r.Prober(), Target: probe.Target{ContainerID: id},
		Probe:    &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 2, ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
		OnChange: func(u probe.Update) { changes <- u.Result },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	waitTimer(t, fc)
	r.SetHTTPHealth(id, false)
	for i := 0; i < 2; i++ {
		fc.Step(time.Second)
		if i == 0 {
			waitTimer(t, fc)
		}
	}
	select {
	case got := <-changes:
		if got != probe.Failure {
			t.Errorf("change to %v, want failure", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no liveness failure reported")
	}
	<-done
}
