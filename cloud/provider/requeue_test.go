package provider

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

// killAgent makes pod name look killed mid-build: its agent disconnects
// (Jenkins fails the build) and its container ends with exit code 137.
func (f *fixture) killAgent(name string) {
	f.t.Helper()
	if err := f.jk.DisconnectAgent(name); err != nil {
		f.t.Fatal(err)
	}
	f.setPod(name, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: render.AgentContainer, State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 137}}}}
	})
}

func (f *fixture) triggers(job string) int {
	n := 0
	for _, r := range f.jk.Requests() {
		if strings.HasPrefix(r, "POST /job/"+job+"/build") {
			n++
		}
	}
	return n
}

func (f *fixture) ledger() map[string]lostBuild {
	cm, err := f.kube.CoreV1().ConfigMaps("default").Get(f.ctx, RequeueConfigMap, metav1.GetOptions{})
	if err != nil {
		f.t.Fatalf("ledger: %v", err)
	}
	out := map[string]lostBuild{}
	for _, v := range cm.Data {
		var e lostBuild
		if err := json.Unmarshal([]byte(v), &e); err != nil {
			f.t.Fatal(err)
		}
		out[e.Build] = e
	}
	return out
}

// startOne queues one build, launches its agent, connects it and starts it.
func (f *fixture) startOne(job string) jenkinstest.Build {
	f.t.Helper()
	f.queue(job, "docker", 1)
	f.sync()
	f.connectAll()
	b := f.jk.StartBuilds()
	if len(b) != 1 {
		f.t.Fatalf("started %d builds", len(b))
	}
	f.step(time.Second)
	pod, err := f.kube.CoreV1().Pods("default").Get(f.ctx, b[0].Node, metav1.GetOptions{})
	if err != nil || pod.Annotations[AnnotationBuild] == "" {
		f.t.Fatalf("no %s annotation on the busy agent (%v)", AnnotationBuild, err)
	}
	return b[0]
}

// ★ An agent killed mid-build: AgentLost (event, failure, metric by
// reason), the build triggered again once, recorded in the ledger and the
// status; a restarted provider does not trigger it again.
func TestLostBuildRequeuedOnce(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	b := f.startOne("job")
	f.killAgent(b.Node)
	f.step(time.Second)
	if n := f.triggers("job"); n != 2 {
		t.Fatalf("job triggered %d times, want 2 (the build and its requeue)", n)
	}
	l := f.ledger()
	if e := l[b.URL]; e.State != ledgerRequeued || e.Reason != LostKilled || e.QueueItem == 0 {
		t.Errorf("ledger %+v", l)
	}
	st := f.p.Status()
	if len(st.Requeues) != 1 || st.Requeues[0].State != ledgerRequeued || st.Requeues[0].Build != b.URL {
		t.Errorf("status requeues %+v", st.Requeues)
	}
	if len(st.Failures) != 1 || st.Failures[0].Reason != "AgentLost" {
		t.Errorf("failures %+v", st.Failures)
	}
	if v := metricValue(f.metrics.Lost.WithLabelValues("docker", LostKilled)); v != 1 {
		t.Errorf("lost metric %v", v)
	}
	if v := metricValue(f.metrics.Requeued.WithLabelValues("docker", LostKilled)); v != 1 {
		t.Errorf("requeued metric %v", v)
	}
	ev := strings.Join(f.events(), "\n")
	if !strings.Contains(ev, "Warning AgentLost") || !strings.Contains(ev, "Normal BuildRequeued") {
		t.Errorf("events:\n%s", ev)
	}
	// Restarted: nothing is triggered again.
	f.p = f.newProvider()
	f.step(time.Second)
	f.step(time.Second)
	if n := f.triggers("job"); n != 2 {
		t.Errorf("job triggered %d times after a restart, want 2", n)
	}
	// The requeue runs on a new agent; lost again, it is not requeued (retryLostBuilds 1).
	f.connectAll()
	b2 := f.jk.StartBuilds()
	if len(b2) != 1 {
		t.Fatalf("requeued build not started: %d", len(b2))
	}
	f.step(time.Second)
	f.killAgent(b2[0].Node)
	f.step(time.Second)
	if n := f.triggers("job"); n != 2 {
		t.Errorf("second loss triggered the job again (%d)", n)
	}
	if e := f.ledger()[b2[0].URL]; e.State != ledgerNotRequeued || e.Attempt != 2 {
		t.Errorf("second loss ledger %+v", e)
	}
}

// A build that fails by itself while its agent stays connected is not
// lost and not requeued; its agent goes after LostGrace.
func TestFailedBuildNotRequeued(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	b := f.startOne("job")
	if err := f.jk.FinishBuild("job", b.Number, "FAILURE"); err != nil {
		t.Fatal(err)
	}
	f.step(time.Second)
	if n := len(f.pods()); n != 1 {
		t.Fatalf("pods %d: the agent of a failed build is kept LostGrace", n)
	}
	f.step(LostGrace)
	if n := len(f.pods()); n != 0 {
		t.Errorf("pods %d after LostGrace", n)
	}
	if n := f.triggers("job"); n != 1 {
		t.Errorf("job triggered %d times", n)
	}
	if st := f.p.Status(); len(st.Failures) != 0 || len(st.Requeues) != 0 {
		t.Errorf("failures %+v requeues %+v", st.Failures, st.Requeues)
	}
}

// retryLostBuilds: 0 turns requeues off.
func TestRetryLostBuildsOff(t *testing.T) {
	tp := docker("docker")
	zero := 0
	tp.RetryLostBuilds = &zero
	f := newFixture(t, oneTemplate(tp))
	b := f.startOne("job")
	f.killAgent(b.Node)
	f.step(time.Second)
	if n := f.triggers("job"); n != 1 {
		t.Errorf("job triggered %d times with retryLostBuilds 0", n)
	}
	if e := f.ledger()[b.URL]; e.State != ledgerNotRequeued || !strings.Contains(e.Detail, "retryLostBuilds is 0") {
		t.Errorf("ledger %+v", e)
	}
}
