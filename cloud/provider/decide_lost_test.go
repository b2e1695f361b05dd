package provider

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
)

const build1 = "http://j/job/job/1/"

func terminated(reason string, code int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodFailed
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: render.AgentContainer,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}}}
	}
}

func findAction(d decision, name string) agentAction {
	for _, x := range d.agents {
		if x.agent.name == name {
			return x
		}
	}
	return agentAction{}
}

// Item 4: an agent whose pod failed, was OOM-killed, evicted, deleted or
// lost with its node while it had a build is AgentLost, and its build a
// lost build; one drover retires, or whose build failed by itself, is not.
func TestDecideAgentLost(t *testing.T) {
	p := pol(tmpl("docker"))
	seen := map[string]string{AnnotationBuild: build1, AnnotationBuildSeen: stamp(t0), AnnotationConnectedAt: stamp(t0)}
	now := metav1.NewTime(t0)
	for _, tc := range []struct {
		name   string
		comp   *jenkins.Computer
		mutate func(*corev1.Pod)
		ann    map[string]string
		lost   string // "" = not lost
	}{
		{"container killed", offline("a", true), terminated("Error", 137), nil, LostKilled},
		{"OOM-killed", offline("a", true), terminated("OOMKilled", 137), nil, LostOOMKilled},
		{"evicted", offline("a", true), func(p *corev1.Pod) { p.Status.Phase, p.Status.Reason = corev1.PodFailed, "Evicted" }, nil, LostEvicted},
		{"deleted mid-build", online("a", build1), func(p *corev1.Pod) { p.DeletionTimestamp = &now }, nil, LostPodDeleted},
		{"busy when the pod failed, build not yet annotated", online("a", build1), terminated("Error", 143), map[string]string{AnnotationBuild: ""}, LostKilled},
		{"node lost", offline("a", true), func(p *corev1.Pod) { p.Spec.NodeName = "gone" }, nil, LostNodeLost},
		{"agent exited by itself", offline("a", true), terminated("Completed", 0), nil, LostAgentExited},
		{"retired by drover", offline("a", true), func(p *corev1.Pod) { p.DeletionTimestamp = &now },
			map[string]string{AnnotationRetiring: stamp(t0)}, ""},
		{"build failed by itself, agent connected", offline("a", true), nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ann := map[string]string{}
			for k, v := range seen {
				ann[k] = v
			}
			for k, v := range tc.ann {
				ann[k] = v
			}
			w := mkworld(p, nil, wagent{name: "a", tmpl: "docker", phase: corev1.PodRunning, comp: tc.comp, ann: ann, mutate: tc.mutate})
			w.builds[build1] = jenkins.Build{URL: build1, Job: "job", Number: 1, Result: "FAILURE"}
			d := decide(w, p)
			x := findAction(d, "a")
			if tc.lost == "" {
				if len(d.lost) != 0 || x.failReason == "AgentLost" {
					t.Errorf("lost %+v action %+v, want not lost", d.lost, x)
				}
				return
			}
			if x.op != opFail || x.failReason != "AgentLost" || x.backOff || !strings.Contains(x.failMsg, tc.lost) {
				t.Errorf("action %+v, want fail AgentLost (%s) without back-off", x, tc.lost)
			}
			if len(d.lost) != 1 || d.lost[0].Reason != tc.lost || d.lost[0].Build != build1 || d.lost[0].Attempt != 1 {
				t.Errorf("lost %+v", d.lost)
			}
			// Known to the ledger: not lost twice.
			w.ledger[build1] = d.lost[0]
			if d2 := decide(w, p); len(d2.lost) != 0 || findAction(d2, "a").failReason != "" {
				t.Errorf("lost again: %+v", d2.lost)
			}
		})
	}
}

// A one-shot agent whose build failed is kept LostGrace (its pod may yet
// show a loss), then retired; one whose build succeeded goes at once.
func TestDecideOneShotDone(t *testing.T) {
	p := pol(tmpl("docker"))
	ann := map[string]string{AnnotationBuild: build1, AnnotationBuildSeen: stamp(t0), AnnotationConnectedAt: stamp(t0)}
	for _, tc := range []struct {
		result string
		doneAt string
		op     string
	}{{"SUCCESS", "", opRetire}, {"FAILURE", "", opNone}, {"FAILURE", stamp(t0.Add(-time.Second)), opNone},
		{"FAILURE", stamp(t0.Add(-LostGrace)), opRetire}} {
		a := map[string]string{AnnotationDoneAt: tc.doneAt}
		for k, v := range ann {
			a[k] = v
		}
		w := mkworld(p, nil, wagent{name: "a", tmpl: "docker", phase: corev1.PodRunning, comp: offline("a", true), ann: a})
		w.builds[build1] = jenkins.Build{URL: build1, Job: "job", Result: tc.result}
		x := findAction(decide(w, p), "a")
		if x.op != tc.op || (tc.op == opNone && tc.doneAt == "" && x.patch[AnnotationDoneAt] == nil) {
			t.Errorf("%s done at %q: action %+v, want op %q", tc.result, tc.doneAt, x, tc.op)
		}
	}
}

// ★ Requeue: a lost build is triggered again with its parameters once it
// has ended without success, at most retryLostBuilds times.
func TestDecideRequeue(t *testing.T) {
	params := []jenkins.Parameter{{Name: "BRANCH", Value: "main"}}
	entry := lostBuild{Build: build1, Template: "docker", Agent: "a", Reason: LostKilled, LostAt: t0, State: ledgerLost, Attempt: 1, Retries: 1}
	for _, tc := range []struct {
		name    string
		build   *jenkins.Build
		mod     func(*lostBuild)
		trigger bool
		state   string
	}{
		{"failed: requeued", &jenkins.Build{Job: "job", Result: "FAILURE", Parameters: params}, nil, true, ledgerRequeued},
		{"still building", &jenkins.Build{Job: "job", Building: true}, nil, false, ""},
		{"not readable", nil, nil, false, ""},
		{"succeeded", &jenkins.Build{Job: "job", Result: "SUCCESS"}, nil, false, ledgerNotRequeued},
		{"aborted (its node deleted)", &jenkins.Build{Job: "job", Result: "ABORTED"}, nil, true, ledgerRequeued},
		{"retryLostBuilds 0", &jenkins.Build{Job: "job", Result: "FAILURE"}, func(e *lostBuild) { e.Retries = 0 }, false, ledgerNotRequeued},
		{"second loss of a requeue", &jenkins.Build{Job: "job", Result: "FAILURE"}, func(e *lostBuild) { e.Attempt = 2 }, false, ledgerNotRequeued},
		{"retryLostBuilds 2, second loss", &jenkins.Build{Job: "job", Result: "FAILURE"}, func(e *lostBuild) { e.Attempt, e.Retries = 2, 2 }, true, ledgerRequeued},
		{"closed already", &jenkins.Build{Job: "job", Result: "FAILURE"}, func(e *lostBuild) { e.State = ledgerRequeued }, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pol(tmpl("docker"))
			w := mkworld(p, nil)
			e := entry
			if tc.mod != nil {
				tc.mod(&e)
			}
			w.ledger[build1] = e
			if tc.build != nil {
				w.builds[build1] = *tc.build
			}
			d := decide(w, p)
			if tc.state == "" {
				if len(d.requeues) != 0 {
					t.Errorf("requeues %+v, want none yet", d.requeues)
				}
				return
			}
			if len(d.requeues) != 1 {
				t.Fatalf("requeues %+v", d.requeues)
			}
			r := d.requeues[0]
			if r.trigger != tc.trigger || r.entry.State != tc.state {
				t.Errorf("requeue %+v, want trigger %v state %s", r, tc.trigger, tc.state)
			}
			if tc.trigger && (r.job != "job" || len(r.params) != len(tc.build.Parameters)) {
				t.Errorf("trigger %s %v", r.job, r.params)
			}
		})
	}
}

// A build lost in this poll whose build has ended is requeued in the same
// poll; the requeue of an item the agent was launched for counts as a
// second attempt.
func TestDecideLostAndRequeuedAtOnce(t *testing.T) {
	p := pol(tmpl("docker"))
	ann := map[string]string{AnnotationBuild: build1, AnnotationBuildSeen: stamp(t0), AnnotationConnectedAt: stamp(t0)}
	w := mkworld(p, nil, wagent{name: "a", tmpl: "docker", item: 42, phase: corev1.PodRunning, comp: offline("a", true), ann: ann,
		mutate: terminated("Error", 137)})
	w.builds[build1] = jenkins.Build{URL: build1, Job: "job", Result: "FAILURE"}
	d := decide(w, p)
	if len(d.lost) != 1 || len(d.requeues) != 1 || !d.requeues[0].trigger {
		t.Fatalf("lost %+v requeues %+v", d.lost, d.requeues)
	}
	// The agent ran the requeue (item 42) of an earlier lost build: attempt 2.
	w.ledger["http://j/job/job/0/"] = lostBuild{Build: "http://j/job/job/0/", State: ledgerRequeued, Attempt: 1, Retries: 1, QueueItem: 42}
	d = decide(w, p)
	if len(d.lost) != 1 || d.lost[0].Attempt != 2 || len(d.requeues) != 1 || d.requeues[0].trigger {
		t.Errorf("second loss: lost %+v requeues %+v, want attempt 2 not requeued", d.lost, d.requeues)
	}
	// The agent was launched for item 42 but its build came from item 7, the requeue of
	// another lost build: Jenkins' queueId of the build decides, not the agent's label.
	w.ledger["http://j/job/job/0/"] = lostBuild{Build: "http://j/job/job/0/", State: ledgerRequeued, Attempt: 1, Retries: 1, QueueItem: 7}
	w.builds[build1] = jenkins.Build{URL: build1, Job: "job", Result: "FAILURE", QueueID: 7}
	d = decide(w, p)
	if len(d.lost) != 1 || d.lost[0].Attempt != 2 || len(d.requeues) != 1 || d.requeues[0].trigger {
		t.Errorf("loss of a build from item 7: lost %+v requeues %+v, want attempt 2 not requeued", d.lost, d.requeues)
	}
	w.builds[build1] = jenkins.Build{URL: build1, Job: "job", Result: "FAILURE", QueueID: 42}
	d = decide(w, p)
	if len(d.lost) != 1 || d.lost[0].Attempt != 1 || len(d.requeues) != 1 || !d.requeues[0].trigger {
		t.Errorf("loss of a build from item 42 (not a requeue): lost %+v requeues %+v, want attempt 1 requeued", d.lost, d.requeues)
	}
	// A busy node whose pod is gone: its build is lost (PodDeleted).
	w = mkworld(p, nil)
	w.comps["gone"], w.order = online("gone", build1), []string{"gone"}
	d = decide(w, p)
	if len(d.nodes) != 1 || !d.nodes[0].lost || len(d.lost) != 1 || d.lost[0].Reason != LostPodDeleted {
		t.Errorf("nodes %+v lost %+v", d.nodes, d.lost)
	}
}

// ★ Caches: each launch leases a claim no agent holds, creating claims on
// demand up to instanceCap; a claim whose pod is gone is reused.
func TestDecideCacheLeases(t *testing.T) {
	tp := tmpl("docker")
	tp.InstanceCap = 3
	tp.Caches = []config.Cache{{Name: "m2", MountPath: "/m2", Size: resource.MustParse("1Gi")}}
	p := pol(tp)
	claim := func(n int) string { return render.CacheClaimName("docker", "m2", n) }
	holding := func(n int) func(*corev1.Pod) {
		return func(pod *corev1.Pod) {
			pod.Spec.Volumes = []corev1.Volume{{Name: "cache-m2", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim(n)}}}}
		}
	}
	for _, tc := range []struct {
		name    string
		claims  []int
		agents  []wagent
		queue   int
		leases  []string
		created []int
		waits   string
	}{
		{"none yet: two new", nil, nil, 2, []string{claim(0), claim(1)}, []int{0, 1}, ""},
		{"free one reused", []int{0}, nil, 1, []string{claim(0)}, nil, ""},
		{"crashed agent's claim reused", []int{0, 1}, []wagent{{name: "b", tmpl: "docker", item: 7, phase: corev1.PodRunning,
			comp: online("b", build1), mutate: holding(1)}}, 1, []string{claim(0)}, nil, ""},
		{"held ones skipped, gap filled", []int{1}, []wagent{{name: "b", tmpl: "docker", item: 7, phase: corev1.PodRunning,
			comp: online("b", build1), mutate: holding(1)}}, 2, []string{claim(0), claim(2)}, []int{0, 2}, ""},
		{"all held at instanceCap", []int{0, 1, 2}, []wagent{
			{name: "b", tmpl: "docker", phase: corev1.PodFailed, comp: offline("b", true), mutate: holding(0), ann: connectedAnn},
			{name: "c", tmpl: "docker", item: 8, phase: corev1.PodRunning, comp: online("c", build1), mutate: holding(1)},
			{name: "e", tmpl: "docker", phase: corev1.PodFailed, comp: offline("e", true), mutate: holding(2), ann: connectedAnn}},
			1, nil, nil, "all 3 claims of cache m2 are held"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var queue []jenkins.QueueItem
			for i := 0; i < tc.queue; i++ {
				queue = append(queue, qitem(int64(i+1), "docker"))
			}
			w := mkworld(p, queue, tc.agents...)
			w.claims = map[string]*corev1.PersistentVolumeClaim{}
			for _, n := range tc.claims {
				w.claims[claim(n)] = &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: claim(n)}}
			}
			d := decide(w, p)
			var got []string
			for _, l := range d.launches {
				got = append(got, l.caches["m2"])
			}
			if strings.Join(got, " ") != strings.Join(tc.leases, " ") {
				t.Errorf("leases %q, want %q", got, tc.leases)
			}
			var created []int
			for _, c := range d.claims {
				created = append(created, c.index)
			}
			if len(created) != len(tc.created) || (len(created) > 0 && ids64(created) != ids64(tc.created)) {
				t.Errorf("claims created %v, want %v", created, tc.created)
			}
			if tc.waits != "" {
				if f := d.items[1]; f == nil || !strings.Contains(f.waiting, tc.waits) {
					t.Errorf("item 1 %+v, want waiting %q", f, tc.waits)
				}
			}
		})
	}
}

var connectedAnn = map[string]string{AnnotationConnectedAt: stamp(t0)}

func ids64(ns []int) string {
	var s []string
	for _, n := range ns {
		s = append(s, string(rune('0'+n)))
	}
	return strings.Join(s, ",")
}
