package provider

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

func TestCaps(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*config.Config, *Options)
		want  int
	}{
		{"instanceCap", func(c *config.Config, _ *Options) { c.Templates[0].InstanceCap = 3 }, 3},
		{"containerCap", func(c *config.Config, _ *Options) { c.ContainerCap = 2 }, 2},
		{"pending cap default", func(*config.Config, *Options) {}, DefaultMaxPending},
		{"pending cap option", func(_ *config.Config, o *Options) { o.MaxPending = 4 }, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, oneTemplate(docker("docker")))
			opts := f.p.opts
			tc.setup(f.cfg, &opts)
			p, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			f.p = p
			f.queue("many", "docker", DefaultMaxPending+2)
			f.sync()
			f.sync()
			if n := len(f.pods()); n != tc.want {
				t.Errorf("pods = %d, want %d", n, tc.want)
			}
			if n := len(f.nodes()); n != tc.want {
				t.Errorf("nodes = %d, want %d", n, tc.want)
			}
			st := f.p.Status()
			waiting := 0
			for _, q := range st.Queue {
				if strings.Contains(q.Waiting, "cap") {
					waiting++
				}
			}
			if waiting != DefaultMaxPending+2-tc.want {
				t.Errorf("%d queue items say a cap holds them, want %d: %+v", waiting, DefaultMaxPending+2-tc.want, st.Queue)
			}
		})
	}
}

func TestLabelExpressions(t *testing.T) {
	cfg := &config.Config{Templates: []config.Template{
		{Name: "win", Label: "windows docker", Image: "w"},
		{Name: "lin", Label: "linux docker", Image: "l"},
	}}
	f := newFixture(t, cfg)
	f.queue("a", "docker && !windows", 1)
	f.queue("b", "(windows || mac) && docker", 1)
	f.queue("c", "gpu", 1)
	// A pipeline node('linux') item: while no node exists its why text names
	// no label, so it waits until the other agents' nodes exist.
	f.jk.EnqueuePipeline("pipe", "linux")
	f.sync()
	f.sync()
	got := map[string]int{}
	for _, p := range f.pods() {
		got[p.Labels[render.LabelTemplate]]++
	}
	if got["lin"] != 2 || got["win"] != 1 {
		t.Errorf("pods per template %v, want lin 2, win 1", got)
	}
	for _, q := range f.p.Status().Queue {
		if q.Task == "c" && (q.Template != "" || !strings.Contains(q.Waiting, "gpu")) {
			t.Errorf("unmatched item status %+v", q)
		}
	}
}

func TestUnlabelledTemplateNormalMode(t *testing.T) {
	f := newFixture(t, &config.Config{Templates: []config.Template{docker("docker"), {Name: "any", Image: "a"}}})
	f.queue("free", "", 1)
	f.sync()
	pods := f.pods()
	if len(pods) != 1 || pods[0].Labels[render.LabelTemplate] != "any" {
		t.Fatalf("pods %d", len(pods))
	}
	if n, _ := f.jk.Node(pods[0].Name); n.Mode != "NORMAL" {
		t.Errorf("template with an empty label: mode %q, want NORMAL", n.Mode)
	}
}

func TestOneShot(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	f.queue("job", "docker", 1)
	f.sync()
	pods := f.pods()
	if len(pods) != 1 {
		t.Fatalf("pods %d", len(pods))
	}
	name := pods[0].Name
	f.setPod(name, func(s *corev1.PodStatus) { s.Phase = corev1.PodRunning })
	f.step(time.Second)
	if err := f.jk.ConnectAgent(name); err != nil {
		t.Fatal(err)
	}
	b := f.jk.StartBuilds()
	if len(b) != 1 || b[0].Node != name {
		t.Fatalf("started %+v", b)
	}
	f.step(time.Second)
	n, _ := f.jk.Node(name)
	if !n.TemporarilyOffline || n.OfflineMessage != OneShotOfflineMessage {
		t.Errorf("busy one-shot agent not temporarily offline: %+v", n)
	}
	pod, _ := f.kube.CoreV1().Pods("default").Get(f.ctx, name, metav1.GetOptions{})
	for _, a := range []string{AnnotationBuildSeen, AnnotationConnectedAt, AnnotationRunningAt, AnnotationCreatedAt} {
		if pod.Annotations[a] == "" {
			t.Errorf("annotation %s missing: %v", a, pod.Annotations)
		}
	}
	// A second build on the same label must not land on it.
	f.queue("job2", "docker", 1)
	if started := f.jk.StartBuilds(); len(started) != 0 {
		t.Errorf("second build started on a one-shot agent: %+v", started)
	}
	if err := f.jk.FinishBuild(b[0].Job, b[0].Number, "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	f.step(time.Second)
	if _, ok := f.jk.Node(name); ok {
		t.Errorf("node %s still there after its build", name)
	}
	for _, p := range f.pods() {
		if p.Name == name {
			t.Errorf("pod %s still there after its build", name)
		}
	}
	// The API's garbage collector removes the Secret with its owner pod.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := f.kube.CoreV1().Secrets("default").Get(f.ctx, name, metav1.GetOptions{})
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("secret %s still there 10 s after its pod was deleted", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// job2 got its own agent.
	if ps := f.pods(); len(ps) != 1 || ps[0].Labels[render.LabelQueueItem] == "" {
		t.Errorf("pods for job2: %+v", ps)
	}
	if testutilCount(f.metrics.Stage, "docker", StageBuildStarted) != 1 || testutilCount(f.metrics.Stage, "docker", StageConnected) != 1 ||
		testutilCount(f.metrics.Stage, "docker", StageRunning) != 1 || testutilCount(f.metrics.Stage, "docker", StagePodCreated) != 2 ||
		testutilCount(f.metrics.Stage, "docker", StageDecided) != 2 {
		t.Errorf("stage observations wrong")
	}
}

func TestIdleReaping(t *testing.T) {
	tp := docker("docker")
	tp.IdleMinutes = 10
	f := newFixture(t, oneTemplate(tp))
	f.queue("job", "docker", 2)
	f.sync()
	f.connectAll()
	b := f.jk.StartBuilds()
	if len(b) != 2 {
		t.Fatalf("started %d", len(b))
	}
	f.step(time.Second)
	_ = f.jk.FinishBuild(b[0].Job, b[0].Number, "SUCCESS")
	f.step(time.Second) // agent 0 idle since now
	f.step(5 * time.Minute)
	_ = f.jk.FinishBuild(b[1].Job, b[1].Number, "SUCCESS")
	f.step(time.Second) // agent 1 idle since now
	for _, n := range f.nodes() {
		if node, _ := f.jk.Node(n); node.TemporarilyOffline {
			t.Errorf("reusable agent %s marked offline", n)
		}
	}
	if n := len(f.pods()); n != 2 {
		t.Fatalf("pods %d before idle limit", n)
	}
	f.step(5 * time.Minute) // agent 0 idle 10 min + 1 s
	if ps := f.pods(); len(ps) != 1 || ps[0].Spec.NodeName != "" && ps[0].Name == b[0].Node {
		t.Fatalf("after 10 min: pods %d", len(ps))
	} else if ps[0].Name != b[1].Node {
		t.Errorf("the wrong agent was reaped: kept %s, want %s", ps[0].Name, b[1].Node)
	}
	if _, ok := f.jk.Node(b[0].Node); ok {
		t.Errorf("reaped agent's node still there")
	}
	f.step(6 * time.Minute)
	if n := len(f.pods()) + len(f.nodes()); n != 0 {
		t.Errorf("left %d pods+nodes", n)
	}
}

func TestMinIdleKeepsWarmPool(t *testing.T) {
	tp := docker("docker")
	tp.IdleMinutes = 1
	tp.MinIdle = 2
	f := newFixture(t, oneTemplate(tp))
	f.sync()
	pods := f.pods()
	if len(pods) != 2 {
		t.Fatalf("warm pods %d, want 2", len(pods))
	}
	for _, p := range pods {
		if _, ok := p.Labels[render.LabelQueueItem]; ok {
			t.Errorf("warm pod with queue item label")
		}
	}
	f.connectAll()
	for i := 0; i < 5; i++ {
		f.step(time.Minute)
	}
	if n := len(f.pods()); n != 2 {
		t.Errorf("after 5 idle minutes: %d pods, want 2", n)
	}
	// A build takes one; a replacement comes so that 2 stay idle.
	f.queue("job", "docker", 1)
	if b := f.jk.StartBuilds(); len(b) != 1 {
		t.Fatalf("started %d", len(b))
	}
	f.step(time.Second)
	st := f.p.Status().Templates[0]
	if st.Busy != 1 || st.Idle != 1 || st.Pending != 1 || st.MinIdle != 2 {
		t.Errorf("template status %+v", st)
	}
}

func TestWarmSchedule(t *testing.T) {
	tp := docker("docker")
	tp.IdleMinutes = 1
	tp.WarmSchedules = []config.WarmSchedule{{Cron: "0 8 * * 1-5", Duration: metav1.Duration{Duration: 10 * time.Hour}, MinIdle: 3}}
	f := newFixture(t, oneTemplate(tp))
	// Monday 07:59 local: no window.
	f.clock.SetTime(time.Date(2026, 11, 23, 7, 59, 0, 0, time.Local))
	f.sync()
	if n := len(f.pods()); n != 0 {
		t.Fatalf("before the window: %d pods", n)
	}
	f.step(2 * time.Minute)
	if n := len(f.pods()); n != 3 {
		t.Fatalf("in the window: %d pods, want 3", n)
	}
	f.connectAll()
	f.step(time.Hour)
	if n := len(f.pods()); n != 3 {
		t.Fatalf("in the window after an hour: %d pods, want 3", n)
	}
	f.step(9 * time.Hour) // 18:01: closed
	f.step(2 * time.Minute)
	if n := len(f.pods()); n != 0 {
		t.Errorf("after the window: %d pods, want 0", n)
	}
}

func TestSwarmReplicas(t *testing.T) {
	tp := config.Template{Name: "sw", Label: "swarm", Image: "swarm-client:1", Mode: config.ModeSwarm, MinIdle: 1, InstanceCap: 4,
		Args: []string{"-master", "http://jenkins:8080"}}
	f := newFixture(t, oneTemplate(tp))
	rcReplicas := func() int32 {
		rc, err := f.kube.CoreV1().ReplicationControllers("default").Get(f.ctx, "jenkins-swarm-sw", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rc.Labels[render.LabelTemplate] != "sw" || rc.Spec.Template.Spec.Containers[0].Image != "swarm-client:1" {
			t.Errorf("rc %+v", rc.ObjectMeta)
		}
		return *rc.Spec.Replicas
	}
	f.sync()
	if r := rcReplicas(); r != 1 {
		t.Errorf("idle replicas %d, want minIdle 1", r)
	}
	f.queue("j", "swarm", 3)
	f.sync()
	if r := rcReplicas(); r != 3 {
		t.Errorf("3 queued: replicas %d, want 3", r)
	}
	f.queue("k", "swarm", 5)
	f.sync()
	if r := rcReplicas(); r != 4 {
		t.Errorf("8 queued: replicas %d, want instanceCap 4", r)
	}
	if n := len(f.nodes()); n != 0 {
		t.Errorf("swarm template created Jenkins nodes: %d", n)
	}
	if got := render.SwarmReplicas(config.Template{}, 0, 3, 0); got != 3 {
		t.Errorf("no cap, 3 busy: %d", got)
	}
	if got := render.SwarmReplicas(config.Template{}, 2, 0, 0); got != 2 {
		t.Errorf("no cap, minIdle 2: %d", got)
	}
}

func TestStatusConfigMap(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	f.queue("job", "docker", 2)
	f.sync()
	read := func() (Status, string) {
		cm, err := f.kube.CoreV1().ConfigMaps("default").Get(f.ctx, StatusConfigMap, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var st Status
		if err := json.Unmarshal([]byte(cm.Data[StatusKey]), &st); err != nil {
			t.Fatal(err)
		}
		return st, cm.ResourceVersion
	}
	f.step(time.Second) // the decision changes once the agents exist
	st, rv := read()
	if st.JenkinsURL != f.jk.URL() || st.Namespace != "default" || len(st.Agents) != 2 || len(st.Queue) != 2 ||
		len(st.Templates) != 1 || st.Templates[0].Demand != 2 {
		t.Errorf("status %+v", st)
	}
	f.step(time.Second)
	if _, rv2 := read(); rv2 != rv {
		t.Errorf("ConfigMap rewritten although nothing changed")
	}
	f.connectAll()
	f.step(time.Second)
	st, rv3 := read()
	if rv3 == rv || st.Templates[0].Idle != 2 {
		t.Errorf("ConfigMap not updated on change: %+v", st.Templates)
	}
	if g := metricValue(f.metrics.Agents.WithLabelValues("docker", StateIdle)); g != 2 {
		t.Errorf("idle gauge %v, want 2", g)
	}
	if g := metricValue(f.metrics.Agents.WithLabelValues("docker", StatePending)); g != 0 {
		t.Errorf("pending gauge %v, want 0", g)
	}
	if c := metricValue(f.metrics.Launched.WithLabelValues("docker")); c != 2 {
		t.Errorf("launched counter %v, want 2", c)
	}
	states := []string{}
	for _, a := range st.Agents {
		states = append(states, a.State)
	}
	sort.Strings(states)
	if strings.Join(states, ",") != "idle,idle" {
		t.Errorf("agent states %v", states)
	}
}

func TestJenkinsDown(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	f.sync()
	f.jk.Close()
	if err := f.p.Sync(f.ctx); err == nil {
		t.Fatal("Sync with Jenkins down: no error")
	}
	if st := f.p.Status(); st.JenkinsError == "" || strings.Contains(st.JenkinsError, jToken) {
		t.Errorf("JenkinsError %q", st.JenkinsError)
	}
}

func TestSwarmCountsBusyAgents(t *testing.T) {
	tp := config.Template{Name: "sw", Label: "swarm", Image: "swarm-client:1", Mode: config.ModeSwarm}
	f := newFixture(t, oneTemplate(tp))
	// A pod of the RC and the node its swarm client registered.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-swarm-sw-abcde", Labels: map[string]string{render.LabelTemplate: "sw"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "swarm", Image: "swarm-client:1"}}}}
	if _, err := f.kube.CoreV1().Pods("default").Create(f.ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.jc.CreateInboundNode(f.ctx, jenkins.NodeSpec{Name: "jenkins-swarm-sw-abcde-1a2b3c", Labels: []string{"swarm"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.jk.ConnectAgent("jenkins-swarm-sw-abcde-1a2b3c"); err != nil {
		t.Fatal(err)
	}
	f.queue("j", "swarm", 3)
	if b := f.jk.StartBuilds(); len(b) != 1 {
		t.Fatalf("started %d", len(b))
	}
	f.sync()
	rc, err := f.kube.CoreV1().ReplicationControllers("default").Get(f.ctx, "jenkins-swarm-sw", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *rc.Spec.Replicas != 3 {
		t.Errorf("1 busy + 2 queued: replicas %d, want 3", *rc.Spec.Replicas)
	}
	if st := f.p.Status().Templates[0]; st.Busy != 1 || st.Demand != 2 {
		t.Errorf("template status %+v", st)
	}
	// The swarm node is not ours: never deleted as an orphan.
	f.step(DefaultOrphanInterval)
	if _, ok := f.jk.Node("jenkins-swarm-sw-abcde-1a2b3c"); !ok {
		t.Errorf("swarm node deleted")
	}
}

// A provider that stopped after marking a one-shot agent offline but before
// recording the build: its successor still removes the agent once idle.
func TestOneShotOfflineWithoutAnnotation(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("docker")))
	f.queue("job", "docker", 1)
	f.sync()
	f.connectAll()
	f.step(time.Second) // connected-at recorded
	b := f.jk.StartBuilds()
	if len(b) != 1 {
		t.Fatal("no build")
	}
	if err := f.jc.SetOffline(f.ctx, b[0].Node, OneShotOfflineMessage); err != nil {
		t.Fatal(err)
	}
	if err := f.jk.FinishBuild(b[0].Job, b[0].Number, "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	f.p = f.newProvider()
	f.step(time.Second)
	if n := len(f.pods()) + len(f.nodes()); n != 0 {
		t.Errorf("%d pods+nodes left", n)
	}
}

// A pipeline node('linux') item on a Jenkins with no agent node names no
// label: the probe node makes Jenkins name it, then an agent is launched.
func TestLabelProbeForPipelineItems(t *testing.T) {
	f := newFixture(t, oneTemplate(docker("lin")))
	id := f.jk.EnqueuePipeline("pipe", "linux")
	f.sync()
	if n := len(f.pods()); n != 0 {
		t.Fatalf("pods %d before the label is known", n)
	}
	if _, ok := f.jk.Node(SentinelNodePrefix + "default"); !ok {
		t.Fatal("no probe node")
	}
	f.sync()
	ps := f.pods()
	if len(ps) != 1 || ps[0].Labels[render.LabelTemplate] != "lin" {
		t.Fatalf("pods %+v", ps)
	}
	f.step(DefaultOrphanInterval) // the probe is not an orphan
	if _, ok := f.jk.Node(SentinelNodePrefix + "default"); !ok {
		t.Fatal("probe deleted while the item waits")
	}
	if len(f.pods()) != 1 {
		t.Fatalf("pods %d", len(f.pods()))
	}
	f.connectAll()
	if _, err := f.jk.StartBuild(id); err != nil {
		t.Fatal(err)
	}
	f.step(time.Second)
	if _, ok := f.jk.Node(SentinelNodePrefix + "default"); ok {
		t.Error("probe left after the item started")
	}
}

func TestTemplateRemovedFromConfig(t *testing.T) {
	f := newFixture(t, &config.Config{Templates: []config.Template{docker("a"), {Name: "b", Label: "other", Image: "b"}}})
	f.queue("job", "other", 1)
	f.sync()
	if n := len(f.pods()); n != 1 {
		t.Fatalf("pods %d", n)
	}
	f.cfg.Templates = f.cfg.Templates[:1]
	f.p = f.newProvider()
	f.sync()
	if n := len(f.pods()) + len(f.nodes()); n != 0 {
		t.Errorf("agents of a removed template left: %d pods+nodes", n)
	}
}

// raceClient starts the queued builds (as Jenkins' scheduler may at any
// moment) the first time the provider marks a node offline or deletes it:
// the race between the sync's Computers snapshot and the removal.
type raceClient struct {
	jenkins.Client
	f     *fixture
	fired bool
	calls []string
	got   []jenkinstest.Build
}

func (r *raceClient) race() {
	if !r.fired {
		r.fired = true
		r.got = r.f.jk.StartBuilds()
	}
}

func (r *raceClient) SetOffline(ctx context.Context, name, msg string) error {
	r.race()
	r.calls = append(r.calls, "offline "+name)
	return r.Client.SetOffline(ctx, name, msg)
}

func (r *raceClient) DeleteNode(ctx context.Context, name string) error {
	r.race()
	r.calls = append(r.calls, "delete "+name)
	return r.Client.DeleteNode(ctx, name)
}

func TestIdleRemovalRaceWithNewBuild(t *testing.T) {
	tp := docker("docker")
	tp.IdleMinutes = 1
	f := newFixture(t, oneTemplate(tp))
	f.queue("job", "docker", 1)
	f.sync()
	f.connectAll()
	b := f.jk.StartBuilds()
	if len(b) != 1 {
		t.Fatalf("started %d", len(b))
	}
	name := b[0].Node
	f.step(time.Second)
	_ = f.jk.FinishBuild(b[0].Job, b[0].Number, "SUCCESS")
	f.step(time.Second) // idle since now
	rc := &raceClient{Client: f.jc, f: f}
	opts := f.p.opts
	opts.Jenkins = rc
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.p = p
	// A new build is queued; Jenkins gives it to the idle agent while the
	// provider, having read it idle, removes it.
	f.queue("job2", "docker", 1)
	f.clock.Step(time.Minute + time.Second)
	f.sync()
	node, ok := f.jk.Node(name)
	if !ok {
		t.Fatalf("idle agent deleted although it had taken a build (calls %q)", rc.calls)
	}
	if !node.TemporarilyOffline {
		t.Errorf("agent being removed not taken offline")
	}
	hasPod := func() bool {
		for _, p := range f.pods() {
			if p.Name == name {
				return true
			}
		}
		return false
	}
	if !hasPod() {
		t.Fatalf("the busy agent's pod deleted")
	}
	running := rc.got
	if len(running) != 1 || running[0].Node != name {
		t.Fatalf("builds running on %s: %+v", name, running)
	}
	f.step(time.Second)
	f.step(time.Minute) // still busy: kept
	if _, ok := f.jk.Node(name); !ok {
		t.Fatalf("busy agent removed")
	}
	_ = f.jk.FinishBuild(running[0].Job, running[0].Number, "SUCCESS")
	f.step(time.Second)
	if _, ok := f.jk.Node(name); ok {
		t.Errorf("agent not retired once its build ended")
	}
	if hasPod() {
		t.Errorf("pod of the retired agent left")
	}
}

// Before a swarm RC is scaled down its pods get a deletion cost, busy
// agents high and idle ones low, so that the RC deletes idle agents; the
// annotation is written only when it changes.
func TestSwarmScaleDownSparesBusyAgents(t *testing.T) {
	tp := config.Template{Name: "sw", Label: "swarm", Image: "swarm-client:1", Mode: config.ModeSwarm}
	f := newFixture(t, oneTemplate(tp))
	agent := func(pod, node string) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod, Labels: map[string]string{render.LabelTemplate: "sw"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "swarm", Image: "swarm-client:1"}}}}
		if _, err := f.kube.CoreV1().Pods("default").Create(f.ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := f.jc.CreateInboundNode(f.ctx, jenkins.NodeSpec{Name: node, Labels: []string{"swarm"}}); err != nil {
			t.Fatal(err)
		}
		if err := f.jk.ConnectAgent(node); err != nil {
			t.Fatal(err)
		}
	}
	replicas := func() int32 {
		rc, err := f.kube.CoreV1().ReplicationControllers("default").Get(f.ctx, "jenkins-swarm-sw", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *rc.Spec.Replicas
	}
	cancelQueue := func() {
		q, err := f.jc.Queue(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range q {
			if err := f.jc.CancelQueueItem(f.ctx, it.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	agent("jenkins-swarm-sw-busy1", "jenkins-swarm-sw-busy1-1a2b3c")
	f.queue("j", "swarm", 1)
	if b := f.jk.StartBuilds(); len(b) != 1 {
		t.Fatalf("started %d", len(b))
	}
	agent("jenkins-swarm-sw-idle1", "jenkins-swarm-sw-idle1-4d5e6f")
	f.queue("k", "swarm", 2) // (a build may start on the idle agent: cancelled below)
	cancelQueue()
	f.queue("l", "swarm", 3)
	f.sync()
	if r := replicas(); r < 3 {
		t.Fatalf("replicas %d with 3 queued", r)
	}
	costs := func() map[string]string {
		out := map[string]string{}
		for _, p := range f.pods() {
			out[p.Name] = p.Annotations[render.DeletionCostAnnotation] + "@" + p.ResourceVersion
		}
		return out
	}
	if c := costs(); strings.HasPrefix(c["jenkins-swarm-sw-busy1"], "1000@") || strings.HasPrefix(c["jenkins-swarm-sw-idle1"], "-1000@") {
		t.Errorf("costs written before any scale-down: %v", c)
	}
	cancelQueue()
	f.step(time.Second)
	if r := replicas(); r != 1 {
		t.Fatalf("replicas %d after the queue drained, want 1 (the busy agent)", r)
	}
	c := costs()
	if !strings.HasPrefix(c["jenkins-swarm-sw-busy1"], render.DeletionCostBusy+"@") || !strings.HasPrefix(c["jenkins-swarm-sw-idle1"], render.DeletionCostIdle+"@") {
		t.Errorf("deletion costs %v, want busy %s, idle %s", c, render.DeletionCostBusy, render.DeletionCostIdle)
	}
	// Up and down again: unchanged costs are not rewritten.
	f.queue("m", "swarm", 2)
	f.step(time.Second)
	if r := replicas(); r != 3 {
		t.Fatalf("replicas %d with 2 queued, want 3", r)
	}
	cancelQueue()
	f.step(time.Second)
	if c2 := costs(); c2["jenkins-swarm-sw-busy1"] != c["jenkins-swarm-sw-busy1"] || c2["jenkins-swarm-sw-idle1"] != c["jenkins-swarm-sw-idle1"] {
		t.Errorf("unchanged costs rewritten: %v then %v", c, c2)
	}
}
