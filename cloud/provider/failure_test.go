package provider

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
)

// events drains the fake recorder.
func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestImagePullFailureBacksOff(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	f.queue("job", "docker", 3)
	created := map[string]bool{}
	pullError := func() {
		for _, p := range f.pods() {
			created[p.Name] = true
			f.setPod(p.Name, func(s *corev1.PodStatus) {
				s.ContainerStatuses = []corev1.ContainerStatus{{Name: render.AgentContainer, State: corev1.ContainerState{
					Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: `pull access denied for jenkins/nope`}}}}
			})
		}
	}
	f.sync()
	if len(f.pods()) != 3 {
		t.Fatalf("pods %d", len(f.pods()))
	}
	pullError()
	f.step(time.Second)
	if n := len(f.pods()) + len(f.nodes()); n != 0 {
		t.Errorf("failed agents left %d pods+nodes", n)
	}
	ev := f.events()
	if len(ev) != 3 || !strings.HasPrefix(ev[0], "Warning ErrImagePull") || !strings.Contains(ev[0], "pull access denied") {
		t.Errorf("events %q", ev)
	}
	st := f.p.Status()
	if len(st.Failures) != 3 || st.Failures[0].Reason != "ErrImagePull" || !strings.Contains(st.Failures[0].Message, "pull access denied") {
		t.Errorf("failures %+v", st.Failures)
	}
	if st.Templates[0].BackoffUntil == nil || !strings.Contains(st.Templates[0].BackoffReason, "ErrImagePull") {
		t.Errorf("no back-off: %+v", st.Templates[0])
	}
	for _, q := range st.Queue {
		if !strings.Contains(q.Waiting, "backing off") {
			t.Errorf("queue item %d waiting %q", q.ID, q.Waiting)
		}
	}
	// Ten minutes of polls every second: one trial agent at a time, the
	// back-off doubling after each failure (10 s, 20 s, 40 s, ...).
	for i := 0; i < 600; i++ {
		f.clock.Step(time.Second)
		f.sync()
		pullError()
	}
	if n := len(created); n > 3+8 {
		t.Errorf("%d pods created over 10 minutes of failures; want a bounded number (≤ 11)", n)
	} else if n < 3+3 {
		t.Errorf("%d pods created: the back-off never probed", n)
	}
	if got := testutilCounter(f.metrics, "docker", "ErrImagePull"); got != float64(len(created)) {
		t.Errorf("failure counter %v, want %d", got, len(created))
	}
	// A probe that connects resets the back-off: all demand is launched again.
	f.clock.Step(BackoffMax)
	f.sync()
	ps := f.pods()
	if len(ps) != 1 {
		t.Fatalf("probe pods %d, want 1", len(ps))
	}
	if err := f.jk.ConnectAgent(ps[0].Name); err != nil {
		t.Fatal(err)
	}
	f.step(time.Second)
	if st := f.p.Status(); st.Templates[0].BackoffUntil != nil {
		t.Errorf("back-off not reset by a connected agent: %+v", st.Templates[0])
	}
	f.step(time.Second)
	if n := len(f.pods()); n != 3 {
		t.Errorf("after reset: %d pods, want 3", n)
	}
}

func TestPodFailedBeforeConnect(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	f.queue("job", "docker", 1)
	f.sync()
	name := f.pods()[0].Name
	f.setPod(name, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: render.AgentContainer, State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: "no java"}}}}
	})
	f.step(time.Second)
	st := f.p.Status()
	if len(st.Failures) != 1 || st.Failures[0].Reason != "PodFailed" || !strings.Contains(st.Failures[0].Message, "exit code 1") {
		t.Errorf("failures %+v", st.Failures)
	}
	if _, ok := f.jk.Node(name); ok {
		t.Errorf("node left")
	}
}

func TestTimeouts(t *testing.T) {
	tp := docker("docker")
	tp.PendingTimeout = metav1.Duration{Duration: time.Minute}
	cfg := oneTemplate(tp)
	cfg.ConnectTimeout = metav1.Duration{Duration: 2 * time.Minute}
	f := newFixture(t, cfg)
	f.queue("job", "docker", 2)
	f.sync()
	ps := f.pods()
	f.setPod(ps[1].Name, func(s *corev1.PodStatus) { s.Phase = corev1.PodRunning })
	f.step(59 * time.Second)
	if n := len(f.pods()); n != 2 {
		t.Fatalf("before pendingTimeout: %d pods", n)
	}
	f.step(2 * time.Second)
	st := f.p.Status()
	if len(st.Failures) != 1 || st.Failures[0].Reason != "PendingTimeout" || st.Failures[0].Agent != ps[0].Name {
		t.Fatalf("failures %+v", st.Failures)
	}
	// Running was first seen 59 s in: the connect timeout runs from then.
	f.step(time.Minute)
	if st := f.p.Status(); len(st.Failures) != 1 {
		t.Fatalf("connect timeout too early: %+v", st.Failures)
	}
	f.step(time.Minute)
	st = f.p.Status()
	if len(st.Failures) != 2 || st.Failures[1].Reason != "ConnectTimeout" || st.Failures[1].Agent != ps[1].Name {
		t.Errorf("failures %+v", st.Failures)
	}
	for _, n := range []string{ps[0].Name, ps[1].Name} {
		if _, ok := f.jk.Node(n); ok {
			t.Errorf("node %s left", n)
		}
	}
}

func TestPodDeletedMidBuild(t *testing.T) {
	tp := docker("docker")
	tp.IdleMinutes = 5
	f := newFixture(t, oneTemplate(tp))
	f.queue("job", "docker", 1)
	f.sync()
	f.connectAll()
	b := f.jk.StartBuilds()
	if len(b) != 1 {
		t.Fatal("no build")
	}
	f.step(time.Second)
	grace := int64(0)
	if err := f.kube.CoreV1().Pods("default").Delete(f.ctx, b[0].Node, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	f.step(time.Second)
	if _, ok := f.jk.Node(b[0].Node); ok {
		t.Errorf("node of the lost agent left")
	}
	st := f.p.Status()
	if len(st.Failures) != 1 || st.Failures[0].Reason != "AgentLost" {
		t.Errorf("failures %+v", st.Failures)
	}
	// Its build is lost (PodDeleted) and, once Jenkins has failed it, requeued.
	f.step(time.Second)
	if e := f.ledger()[b[0].URL]; e.Reason != LostPodDeleted || e.State != ledgerRequeued {
		t.Errorf("ledger entry %+v, want PodDeleted requeued", e)
	}
	if n := f.triggers("job"); n != 2 {
		t.Errorf("job triggered %d times, want 2", n)
	}
	found := false
	for _, e := range f.events() {
		found = found || (strings.HasPrefix(e, "Warning AgentLost") && strings.Contains(e, b[0].Node))
	}
	if !found {
		t.Errorf("no AgentLost event for %s: %q", b[0].Node, f.events())
	}
}

func TestPodFailedMidBuild(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	f.queue("job", "docker", 1)
	f.sync()
	f.connectAll()
	b := f.jk.StartBuilds()
	f.step(time.Second)
	f.setPod(b[0].Node, func(s *corev1.PodStatus) { s.Phase = corev1.PodFailed })
	f.step(time.Second)
	if _, ok := f.jk.Node(b[0].Node); ok {
		t.Errorf("node left")
	}
	if n := len(f.pods()); n != 0 {
		t.Errorf("pods left %d", n)
	}
	if st := f.p.Status(); len(st.Failures) != 1 || st.Failures[0].Reason != "AgentLost" {
		t.Errorf("failures %+v", st.Failures)
	}
}

func TestOrphans(t *testing.T) {
	f := newFixture(t, &config.Config{Templates: []config.Template{docker("docker")}})
	f.queue("job", "docker", 2)
	f.sync()
	ps := f.pods()
	// Direction 1: a node deleted in Jenkins → its pod goes.
	if err := f.jc.DeleteNode(f.ctx, ps[0].Name); err != nil {
		t.Fatal(err)
	}
	// Direction 2: a pod deleted → its (idle, offline) node goes at the sweep.
	grace := int64(0)
	if err := f.kube.CoreV1().Pods("default").Delete(f.ctx, ps[1].Name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	// A node of ours from another life, and a node that is not ours.
	for _, spec := range []struct{ name, desc string }{
		{"docker-zzzzz", f.p.nodeDescription("docker")}, {"static-1", "a static agent"}} {
		if err := f.jc.CreateInboundNode(f.ctx, jenkins.NodeSpec{Name: spec.name, Description: spec.desc}); err != nil {
			t.Fatal(err)
		}
	}
	f.step(time.Second)
	for _, p := range f.pods() {
		if p.Name == ps[0].Name {
			t.Errorf("pod whose node is gone still there")
		}
	}
	f.step(DefaultOrphanInterval)
	nodes := map[string]bool{}
	for _, n := range f.nodes() {
		nodes[n] = true
	}
	if nodes[ps[1].Name] || nodes["docker-zzzzz"] {
		t.Errorf("orphan nodes left: %v", nodes)
	}
	if !nodes["static-1"] {
		t.Errorf("a node not made by drover was deleted")
	}
	// The pods go, and new agents for the 2 queued builds replace them.
	if n := len(f.pods()); n != 2 {
		t.Errorf("pods %d, want 2 replacements", n)
	}
}

func TestOrphanSecret(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "docker-old00", Labels: map[string]string{render.LabelAgent: "docker-old00", render.LabelTemplate: "docker"}},
		Data: map[string][]byte{render.SecretKey: []byte("x")}}
	if _, err := f.kube.CoreV1().Secrets("default").Create(f.ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.sync()
	if _, err := f.kube.CoreV1().Secrets("default").Get(f.ctx, s.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("fresh secret deleted: %v", err)
	}
	f.step(DefaultOrphanInterval + SecretOrphanAge)
	if _, err := f.kube.CoreV1().Secrets("default").Get(f.ctx, s.Name, metav1.GetOptions{}); err == nil {
		t.Errorf("orphan secret still there")
	}
}

func TestLaunchUndo(t *testing.T) {
	tp := docker("docker")
	tp.Env = []corev1.EnvVar{{Name: "not a valid=name", Value: "x"}}
	f := newFixture(t, oneTemplate(tp))
	f.queue("job", "docker", 1)
	if err := f.p.Sync(f.ctx); err == nil || !strings.Contains(err.Error(), "create pod") {
		t.Fatalf("Sync: %v, want a pod creation error", err)
	}
	if n := len(f.nodes()); n != 0 {
		t.Errorf("half-created agent: %d nodes", n)
	}
	l, _ := f.kube.CoreV1().Secrets("default").List(f.ctx, metav1.ListOptions{LabelSelector: render.LabelAgent})
	if len(l.Items) != 0 {
		t.Errorf("half-created agent: %d secrets", len(l.Items))
	}
}

func TestRestartMidProvisioning(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	f.queue("job", "docker", 3)
	f.sync()
	ps := f.pods()
	if len(ps) != 3 {
		t.Fatalf("pods %d", len(ps))
	}
	f.setPod(ps[0].Name, func(s *corev1.PodStatus) { s.Phase = corev1.PodRunning })
	if err := f.jk.ConnectAgent(ps[1].Name); err != nil {
		t.Fatal(err)
	}
	// A half-launched agent of the old provider: node created, no pod.
	if err := f.jc.CreateInboundNode(f.ctx, jenkins.NodeSpec{Name: "docker-half0", Description: f.p.nodeDescription("docker"),
		Labels: []string{"docker", "linux"}}); err != nil {
		t.Fatal(err)
	}
	// A new provider over the same API and Jenkins.
	f.p = f.newProvider()
	f.sync()
	f.sync()
	if n := len(f.pods()); n != 3 {
		t.Errorf("after restart: %d pods, want 3 (no duplicates)", n)
	}
	nodes := f.nodes()
	if len(nodes) != 3 {
		t.Errorf("after restart: nodes %v, want the 3 agents' (the half-launched one swept)", nodes)
	}
	f.connectAll()
	builds := f.jk.StartBuilds()
	if len(builds) != 3 {
		t.Fatalf("started %d", len(builds))
	}
	f.step(time.Second)
	for _, n := range nodes {
		if node, _ := f.jk.Node(n); !node.TemporarilyOffline {
			t.Errorf("one-shot %s not offline after the restart", n)
		}
	}
	// Another restart while busy: the build-seen annotation carries over.
	f.p = f.newProvider()
	for _, b := range builds {
		if err := f.jk.FinishBuild(b.Job, b.Number, "SUCCESS"); err != nil {
			t.Fatal(err)
		}
	}
	f.step(time.Second)
	if n := len(f.pods()) + len(f.nodes()); n != 0 {
		t.Errorf("after the builds: %d pods+nodes left", n)
	}
}

// An agent that connected and then went offline while its pod runs is not
// "starting": it is offline, does not cover the queued build (a new agent
// is launched for it), comes back if it reconnects, and is removed with
// reason AgentLost after connectTimeout offline.
func TestConnectedAgentGoesOffline(t *testing.T) {
	tp := docker("docker")
	tp.IdleMinutes = 10
	cfg := oneTemplate(tp)
	cfg.ConnectTimeout = metav1.Duration{Duration: 2 * time.Minute}
	f := newFixture(t, cfg)
	f.queue("job", "docker", 1)
	f.sync()
	name := f.pods()[0].Name
	f.setPod(name, func(s *corev1.PodStatus) { s.Phase = corev1.PodRunning })
	f.connectAll()
	f.step(time.Second)
	if err := f.jk.DisconnectAgent(name); err != nil {
		t.Fatal(err)
	}
	f.step(time.Second)
	state := func(n string) string {
		for _, a := range f.p.Status().Agents {
			if a.Name == n {
				return a.State
			}
		}
		return ""
	}
	if s := state(name); s != StateOffline {
		t.Fatalf("state %q, want %q", s, StateOffline)
	}
	if ts := f.p.Status().Templates[0]; ts.Offline != 1 || ts.Idle != 0 || ts.Starting != 0 {
		t.Errorf("template status %+v, want 1 offline, none idle or starting", ts)
	}
	if v := metricValue(f.metrics.Agents.WithLabelValues("docker", StateOffline)); v != 1 {
		t.Errorf("offline agents gauge %v", v)
	}
	pod, err := f.kube.CoreV1().Pods("default").Get(f.ctx, name, metav1.GetOptions{})
	if err != nil || pod.Annotations[AnnotationOfflineSince] == "" {
		t.Fatalf("no %s annotation (%v): %v", AnnotationOfflineSince, err, pod.Annotations)
	}
	f.step(time.Second)
	if n := len(f.pods()); n != 2 {
		t.Errorf("pods %d, want 2: the queued build needs an agent while its agent is offline", n)
	}
	// Back online: annotation cleared.
	if err := f.jk.ConnectAgent(name); err != nil {
		t.Fatal(err)
	}
	f.step(time.Second)
	if s := state(name); s != StateIdle {
		t.Errorf("state after reconnect %q", s)
	}
	pod, _ = f.kube.CoreV1().Pods("default").Get(f.ctx, name, metav1.GetOptions{})
	if _, ok := pod.Annotations[AnnotationOfflineSince]; ok {
		t.Errorf("%s not cleared on reconnect", AnnotationOfflineSince)
	}
	// Offline for good: removed after connectTimeout.
	if err := f.jk.DisconnectAgent(name); err != nil {
		t.Fatal(err)
	}
	f.step(time.Second)
	f.step(time.Minute)
	if _, ok := f.jk.Node(name); !ok {
		t.Fatalf("node removed before connectTimeout")
	}
	f.step(time.Minute + 2*time.Second)
	if _, ok := f.jk.Node(name); ok {
		t.Errorf("node of the lost agent left")
	}
	for _, p := range f.pods() {
		if p.Name == name {
			t.Errorf("pod of the lost agent left")
		}
	}
	st := f.p.Status()
	if len(st.Failures) != 1 || st.Failures[0].Reason != "AgentLost" || st.Failures[0].Agent != name {
		t.Errorf("failures %+v", st.Failures)
	}
	if st.Templates[0].BackoffUntil != nil {
		t.Errorf("a lost agent backs the template off: %+v", st.Templates[0])
	}
	found := false
	for _, e := range f.events() {
		found = found || strings.HasPrefix(e, "Warning AgentLost")
	}
	if !found {
		t.Errorf("no AgentLost event")
	}
}

// A launch the API refuses is a failure like any other: recorded once
// (LaunchFailed, the error as message, an event), and the template backs
// off instead of creating a Jenkins node every poll.
func TestLaunchFailureBacksOff(t *testing.T) {
	tp := docker("docker")
	tp.Env = []corev1.EnvVar{{Name: "not a valid=name", Value: "x"}}
	f := newFixture(t, oneTemplate(tp))
	f.queue("job", "docker", 2)
	if err := f.p.Sync(f.ctx); err == nil {
		t.Fatal("Sync: no error")
	}
	st := f.p.Status()
	if len(st.Failures) != 1 || st.Failures[0].Reason != "LaunchFailed" || !strings.Contains(st.Failures[0].Message, "create pod") {
		t.Fatalf("failures %+v", st.Failures)
	}
	if st.Templates[0].BackoffUntil == nil || !strings.HasPrefix(st.Templates[0].BackoffReason, "LaunchFailed") {
		t.Errorf("no back-off: %+v", st.Templates[0])
	}
	if ev := f.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning LaunchFailed") {
		t.Errorf("events %q", ev)
	}
	if got := testutilCounter(f.metrics, "docker", "LaunchFailed"); got != 1 {
		t.Errorf("failure counter %v", got)
	}
	// Within the back-off: no new attempt (no node created).
	before := 0
	for _, r := range f.jk.Requests() {
		if strings.Contains(r, "createItem") || strings.Contains(r, "doCreateItem") {
			before++
		}
	}
	for i := 0; i < 5; i++ {
		f.clock.Step(time.Second)
		_ = f.p.Sync(f.ctx)
	}
	after := 0
	for _, r := range f.jk.Requests() {
		if strings.Contains(r, "createItem") || strings.Contains(r, "doCreateItem") {
			after++
		}
	}
	if before == 0 || after != before {
		t.Errorf("node creations %d then %d during the back-off", before, after)
	}
	if n := len(f.p.Status().Failures); n != 1 {
		t.Errorf("%d failures recorded during the back-off, want 1", n)
	}
	if n := len(f.nodes()); n != 0 {
		t.Errorf("nodes left %d", n)
	}
}

// Six agents failing in one sync back the template off once (10 s), not
// six times (5 min).
func TestBackoffGrowsOncePerSync(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	f.queue("job", "docker", 6)
	f.sync()
	ps := f.pods()
	if len(ps) != 6 {
		t.Fatalf("pods %d", len(ps))
	}
	for _, p := range ps {
		f.setPod(p.Name, func(s *corev1.PodStatus) {
			s.ContainerStatuses = []corev1.ContainerStatus{{Name: render.AgentContainer, State: corev1.ContainerState{
				Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "nope"}}}}
		})
	}
	f.step(time.Second)
	st := f.p.Status()
	if len(st.Failures) != 6 {
		t.Fatalf("failures %d", len(st.Failures))
	}
	u := st.Templates[0].BackoffUntil
	if u == nil {
		t.Fatal("no back-off")
	}
	if d := u.Sub(f.clock.Now()); d != BackoffInitial {
		t.Errorf("back-off %s after one sync of failures, want %s", d, BackoffInitial)
	}
	// The probe after the back-off fails: the delay doubles once.
	f.step(BackoffInitial)
	ps = f.pods()
	if len(ps) != 1 {
		t.Fatalf("probe pods %d", len(ps))
	}
	f.setPod(ps[0].Name, func(s *corev1.PodStatus) {
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: render.AgentContainer, State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "nope"}}}}
	})
	f.step(time.Second)
	if u := f.p.Status().Templates[0].BackoffUntil; u == nil || u.Sub(f.clock.Now()) != 2*BackoffInitial {
		t.Errorf("back-off after the probe failed: until %v (now %v), want +%s", u, f.clock.Now(), 2*BackoffInitial)
	}
}

// failDeleteClient fails DeleteNode while fail is set.
type failDeleteClient struct {
	jenkins.Client
	fail bool
}

func (c *failDeleteClient) DeleteNode(ctx context.Context, name string) error {
	if c.fail {
		return errors.New("injected: Jenkins refused the deletion")
	}
	return c.Client.DeleteNode(ctx, name)
}

// A failed agent whose Jenkins node cannot be deleted loses its pod at
// once, its failure is recorded once (not every poll), and its node goes
// when Jenkins accepts the deletion again.
func TestFailureRecordedOnceWhenNodeDeleteFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason string
		busy   bool
	}{{"before connect", "PodFailed", false}, {"mid-build", "AgentLost", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, oneTemplate(docker("docker")))
			dc := &failDeleteClient{Client: f.jc}
			opts := f.p.opts
			opts.Jenkins = dc
			p, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			f.p = p
			f.queue("job", "docker", 1)
			f.sync()
			name := f.pods()[0].Name
			if tc.busy {
				f.connectAll()
				if b := f.jk.StartBuilds(); len(b) != 1 {
					t.Fatalf("started %d", len(b))
				}
				f.step(time.Second)
			}
			dc.fail = true
			f.setPod(name, func(s *corev1.PodStatus) { s.Phase = corev1.PodFailed })
			for i := 0; i < 5; i++ {
				f.clock.Step(time.Second)
				_ = f.p.Sync(f.ctx)
			}
			for _, p := range f.pods() {
				if p.Name == name {
					t.Errorf("pod of the failed agent kept")
				}
			}
			st := f.p.Status()
			n := 0
			for _, fl := range st.Failures {
				if fl.Agent == name {
					n++
					if fl.Reason != tc.reason {
						t.Errorf("reason %q, want %q", fl.Reason, tc.reason)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d failures recorded for %s, want 1: %+v", n, name, st.Failures)
			}
			ev := 0
			for _, e := range f.events() {
				if strings.Contains(e, name) {
					ev++
				}
			}
			if ev != 1 {
				t.Errorf("%d events for %s, want 1", ev, name)
			}
			if got := testutilCounter(f.metrics, "docker", tc.reason); got != 1 {
				t.Errorf("failure counter %v, want 1", got)
			}
			dc.fail = false
			f.step(DefaultOrphanInterval)
			if _, ok := f.jk.Node(name); ok {
				t.Errorf("node of the failed agent left after Jenkins accepted deletions again")
			}
			if n := len(f.p.Status().Failures); n != 1 {
				t.Errorf("failures %d after the node went", n)
			}
		})
	}
}
