package provider

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
)

// The decide tables build worlds by hand: no API server, no Jenkins, no clock.

var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func pol(ts ...config.Template) policy {
	c := &config.Config{URL: "http://j:8080", Templates: ts}
	c.Default()
	return policy{cfg: c, ns: "default", maxPending: DefaultMaxPending}
}

func qitem(id int64, label string) jenkins.QueueItem {
	return jenkins.QueueItem{ID: id, Buildable: true, LabelExpression: label, Label: label, TaskName: "job",
		InQueueSince: t0.Add(-time.Minute), Why: "There are no nodes with the label ‘" + label + "’"}
}

// wagent is an agent of template tmpl named name, launched for item (0:
// none), in pod phase phase, with its computer (nil: none) and annotations.
type wagent struct {
	name, tmpl string
	item       int64
	phase      corev1.PodPhase
	comp       *jenkins.Computer
	ann        map[string]string
	mutate     func(*corev1.Pod)
}

func online(name string, builds ...string) *jenkins.Computer {
	return &jenkins.Computer{Name: name, Idle: len(builds) == 0, Builds: builds,
		Description: NodeDescriptionPrefix + " (template docker, namespace default)"}
}

func offline(name string, temporarily bool) *jenkins.Computer {
	c := online(name)
	c.Offline, c.TemporarilyOffline = true, temporarily
	return c
}

func mkworld(p policy, queue []jenkins.QueueItem, agents ...wagent) *world {
	w := &world{now: t0, queue: queue, comps: map[string]*jenkins.Computer{}, builds: map[string]jenkins.Build{},
		ledger: map[string]lostBuild{}, launching: map[string]bool{}, nodes: map[string]*corev1.Node{
			"n1": {ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}}}
	for _, wa := range agents {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: wa.name, Namespace: "default",
			Labels:      map[string]string{render.LabelAgent: wa.name, render.LabelTemplate: wa.tmpl},
			Annotations: map[string]string{AnnotationCreatedAt: stamp(t0.Add(-time.Minute))}},
			Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: wa.phase}}
		if wa.item > 0 {
			pod.Labels[render.LabelQueueItem] = strconv.FormatInt(wa.item, 10)
		}
		for k, v := range wa.ann {
			pod.Annotations[k] = v
		}
		if wa.mutate != nil {
			wa.mutate(pod)
		}
		if wa.comp != nil {
			w.comps[wa.name] = wa.comp
			w.order = append(w.order, wa.name)
		}
		a := &agent{name: wa.name, template: wa.tmpl, pod: pod, comp: wa.comp}
		a.state = classify(a)
		w.agents = append(w.agents, a)
	}
	return w
}

func tmpl(name string) config.Template {
	return config.Template{Name: name, Label: name, Image: "agent:1"}
}

func launchesFor(d decision) []int64 {
	var out []int64
	for _, l := range d.launches {
		if l.item == nil {
			out = append(out, 0)
		} else {
			out = append(out, l.item.ID)
		}
	}
	return out
}

func ids(s []int64) string {
	var b []string
	for _, i := range s {
		b = append(b, strconv.FormatInt(i, 10))
	}
	return strings.Join(b, ",")
}

func pending(it jenkins.QueueItem) jenkins.QueueItem { it.Pending = true; return it }

// Item 1: demand excludes pending items and items running on the agent
// launched for them, whatever the two reads caught of the hand-off.
func TestDecideDemandExact(t *testing.T) {
	p := pol(tmpl("docker"))
	const b1 = "http://j/job/job/1/"
	for _, tc := range []struct {
		name   string
		queue  []jenkins.QueueItem
		agents []wagent
		want   string // queue item ids launched for
	}{
		{"three new items", []jenkins.QueueItem{qitem(3, "docker"), qitem(2, "docker"), qitem(1, "docker")}, nil, "1,2,3"},
		{"item listed, agent starting for it", []jenkins.QueueItem{qitem(1, "docker")},
			[]wagent{{name: "a1", tmpl: "docker", item: 1, phase: corev1.PodRunning, comp: offline("a1", false)}}, ""},
		{"hand-off between the reads: agent idle, item pending", []jenkins.QueueItem{pending(qitem(1, "docker"))},
			[]wagent{{name: "a1", tmpl: "docker", item: 1, phase: corev1.PodRunning, comp: online("a1")}}, ""},
		{"item pending, agent busy with it", []jenkins.QueueItem{pending(qitem(1, "docker"))},
			[]wagent{{name: "a1", tmpl: "docker", item: 1, phase: corev1.PodRunning, comp: online("a1", b1)}}, ""},
		{"item still listed not pending, agent busy with it", []jenkins.QueueItem{qitem(1, "docker")},
			[]wagent{{name: "a1", tmpl: "docker", item: 1, phase: corev1.PodRunning, comp: online("a1", b1)}}, ""},
		{"item gone, agent busy", nil,
			[]wagent{{name: "a1", tmpl: "docker", item: 1, phase: corev1.PodRunning, comp: online("a1", b1)}}, ""},
		{"pending item of a busy agent, another item waits", []jenkins.QueueItem{qitem(2, "docker"), pending(qitem(1, "docker"))},
			[]wagent{{name: "a1", tmpl: "docker", item: 1, phase: corev1.PodRunning, comp: online("a1", b1)}}, "2"},
		{"free warm agent serves the oldest item", []jenkins.QueueItem{qitem(5, "docker"), qitem(4, "docker")},
			[]wagent{{name: "w1", tmpl: "docker", phase: corev1.PodRunning, comp: online("w1")}}, "5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decide(mkworld(p, tc.queue, tc.agents...), p)
			if got := ids(launchesFor(d)); got != tc.want {
				t.Errorf("launches for items %q, want %q", got, tc.want)
			}
		})
	}
}

// Item 5: an item's agent is the one launched for it (by its queue item
// label), never the one at its position; the rest wait with a reason.
func TestDecideWaitingReasons(t *testing.T) {
	tp := tmpl("docker")
	tp.InstanceCap = 2
	p := pol(tp)
	// Jenkins lists newest first; the agent was launched for item 1, the oldest.
	queue := []jenkins.QueueItem{qitem(3, "docker"), qitem(2, "docker"), qitem(1, "docker"), qitem(9, "nolabel")}
	w := mkworld(p, queue, wagent{name: "a1", tmpl: "docker", item: 1, phase: corev1.PodPending, comp: offline("a1", false)})
	d := decide(w, p)
	if got := ids(launchesFor(d)); got != "2" {
		t.Fatalf("launches for %q, want item 2 (the oldest uncovered)", got)
	}
	st := queueStatus(w, d, outcome{launched: []string{"docker-new"}})
	by := map[int64]QueueStatus{}
	for _, q := range st {
		by[q.ID] = q
	}
	if q := by[1]; q.Agent != "a1" || q.Waiting != "" || q.Template != "docker" {
		t.Errorf("item 1 %+v, want agent a1 coming", q)
	}
	if q := by[2]; q.Agent != "docker-new" || q.Waiting != "" {
		t.Errorf("item 2 %+v, want the launched agent", q)
	}
	if q := by[3]; q.Agent != "" || !strings.Contains(q.Waiting, "cap reached") || !strings.Contains(q.Why, "no nodes with the label") {
		t.Errorf("item 3 %+v, want cap reached with Jenkins' why kept", q)
	}
	if q := by[9]; !strings.Contains(q.Waiting, "no template has labels matching") {
		t.Errorf("item 9 %+v", q)
	}
	// An idle agent whose own item was just handed to an executor is not
	// free for another item.
	w = mkworld(p, []jenkins.QueueItem{qitem(2, "docker"), pending(qitem(1, "docker"))},
		wagent{name: "a1", tmpl: "docker", item: 1, phase: corev1.PodRunning, comp: online("a1")})
	if f := decide(w, p).items[2]; f == nil || f.agent == "a1" {
		t.Errorf("item 2 %+v: a1 is taking its own pending item", f)
	}
	w = mkworld(p, queue, wagent{name: "a1", tmpl: "docker", item: 1, phase: corev1.PodPending, comp: offline("a1", false)})
	// A failed launch: the item says so.
	st = queueStatus(w, d, outcome{launched: []string{""}})
	for _, q := range st {
		if q.ID == 2 && q.Waiting != "launch failed; retrying" {
			t.Errorf("item 2 after a failed launch %+v", q)
		}
	}
}

// Items 2 and 3: a TCP template launches nothing against a controller
// without JNLP4-connect and says how to fix it; a WebSocket template (with
// a tunnel configured, which it ignores) launches.
func TestDecideListener(t *testing.T) {
	ws := tmpl("ws")
	ws.Mode = config.ModeWebSocket
	wsFlag := tmpl("wsflag")
	wsFlag.WebSocket = true
	p := pol(tmpl("docker"), ws, wsFlag)
	p.cfg.JenkinsTunnel = "j:50000"
	queue := []jenkins.QueueItem{qitem(1, "docker"), qitem(2, "ws"), qitem(3, "wsflag")}
	for _, tc := range []struct {
		name     string
		listener *jenkins.AgentListener
		want     string
		refuses  bool
	}{
		{"not read", nil, "1,2,3", false},
		{"JNLP4 offered", &jenkins.AgentListener{Enabled: true, Protocols: []string{"JNLP4-connect", "Ping"}, InstanceIdentity: "abc"}, "1,2,3", false},
		{"no instance identity", &jenkins.AgentListener{Enabled: true, Protocols: []string{"Ping"}}, "2,3", true},
		{"agent port disabled", &jenkins.AgentListener{}, "2,3", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := mkworld(p, queue)
			w.listener = tc.listener
			d := decide(w, p)
			if got := ids(launchesFor(d)); got != tc.want {
				t.Errorf("launches for %q, want %q", got, tc.want)
			}
			if !tc.refuses {
				return
			}
			if len(d.listenerRefuses) != 1 || d.listenerRefuses[0] != "docker" {
				t.Errorf("listenerRefuses %v", d.listenerRefuses)
			}
			f := d.items[1]
			if f == nil || !strings.Contains(f.waiting, "set webSocket: true") {
				t.Errorf("item 1 %+v: want the fix in its waiting reason", f)
			}
			if tc.listener.Enabled && !strings.Contains(f.waiting, "install the instance-identity plugin") {
				t.Errorf("item 1 waiting %q", f.waiting)
			}
			if !strings.Contains(d.templates["docker"].Decision, "webSocket: true") {
				t.Errorf("template decision %q", d.templates["docker"].Decision)
			}
		})
	}
	if w := p.cfg.Warnings(); len(w) != 2 {
		t.Errorf("warnings %q, want one per websocket template", w)
	}
}

// decide is pure: the world it is given is left as it was, and the same
// world gives the same decision.
func TestDecidePure(t *testing.T) {
	tp := tmpl("docker")
	tp.MinIdle = 1
	p := pol(tp)
	p.backoffs = map[string]backoff{"docker": {delay: BackoffInitial, until: t0.Add(-time.Second), reason: "x"}}
	mk := func() *world {
		return mkworld(p, []jenkins.QueueItem{qitem(2, "docker"), pending(qitem(1, "docker"))},
			wagent{name: "a1", tmpl: "docker", item: 1, phase: corev1.PodRunning, comp: online("a1", "http://j/job/job/1/")},
			wagent{name: "a2", tmpl: "docker", phase: corev1.PodFailed, comp: offline("a2", false)},
			wagent{name: "a3", tmpl: "docker", phase: corev1.PodRunning, comp: online("a3"),
				ann: map[string]string{AnnotationIdleSince: stamp(t0.Add(-time.Hour)), AnnotationConnectedAt: stamp(t0)}})
	}
	w, want := mk(), mk()
	d1 := decide(w, p)
	d2 := decide(w, p)
	if !reflect.DeepEqual(w, want) {
		t.Errorf("decide changed its world")
	}
	if len(p.backoffs) != 1 || p.backoffs["docker"].reason != "x" {
		t.Errorf("decide changed the back-offs: %+v", p.backoffs)
	}
	if ids(launchesFor(d1)) != ids(launchesFor(d2)) || len(d1.agents) != len(d2.agents) || len(d1.remove) != len(d2.remove) {
		t.Errorf("two decisions on one world differ: %+v / %+v", d1, d2)
	}
	for i := range d1.agents {
		if !reflect.DeepEqual(d1.agents[i].patch, d2.agents[i].patch) || d1.agents[i].op != d2.agents[i].op {
			t.Errorf("agent %s: %+v / %+v", d1.agents[i].agent.name, d1.agents[i], d2.agents[i])
		}
	}
}
