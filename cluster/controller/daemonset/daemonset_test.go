package daemonset

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"testing"

	"github.com/davecgh/go-spew/spew"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
)

func TestOnePodPerEligibleNode(t *testing.T) {
	ds := newDS("agent")
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	objs := []runtime.Object{ds,
		readyNode("n1", map[string]string{"disk": "ssd"}),
		readyNode("n2", map[string]string{"disk": "ssd"}),
		readyNode("n3", map[string]string{"disk": "hdd"}), // selector
		readyNode("n4", map[string]string{"disk": "ssd"}, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}), // taint
	}
	f := newFixture(t, objs...)
	actions := f.sync("default/agent")
	if got := createdOn(t, actions); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Fatalf("pods created on %v, want [n1 n2]", got)
	}
	pod := controllertest.Created[*corev1.Pod](actions, "pods")[0]
	if pod.Spec.NodeName != "" {
		t.Errorf("pod bound by the controller to %q; the scheduler binds it", pod.Spec.NodeName)
	}
	if !strings.HasPrefix(pod.GenerateName, "agent-") || metav1.GetControllerOf(pod) == nil || metav1.GetControllerOf(pod).UID != ds.UID {
		t.Errorf("pod meta = %+v", pod.ObjectMeta)
	}
	if h := pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; h != currentHash(ds) {
		t.Errorf("controller-revision-hash = %q, want %q", h, currentHash(ds))
	}
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeDiskPressure,
		corev1.TaintNodeMemoryPressure, corev1.TaintNodePIDPressure, corev1.TaintNodeUnschedulable} {
		found := false
		for _, tol := range pod.Spec.Tolerations {
			found = found || (tol.Key == key && tol.Operator == corev1.TolerationOpExists)
		}
		if !found {
			t.Errorf("no toleration of %s in %+v", key, pod.Spec.Tolerations)
		}
	}
	revs := controllertest.Created[*appsv1.ControllerRevision](actions, "controllerrevisions")
	if len(revs) != 1 || revs[0].Name != "agent-"+currentHash(ds) || revs[0].Revision != 1 {
		t.Fatalf("revisions created = %+v", revs)
	}
	st := statusOf(actions)
	if st == nil || st.DesiredNumberScheduled != 2 || st.CurrentNumberScheduled != 0 || st.NumberUnavailable != 2 || st.ObservedGeneration != 1 {
		t.Fatalf("status = %+v", st)
	}
	// The same sync again waits for the creations to be observed: nothing more is created.
	if got := createdOn(t, f.sync("default/agent")); len(got) != 0 {
		t.Fatalf("created again before the first pods were seen: %v", got)
	}
}

func TestStatusCounts(t *testing.T) {
	ds := newDS("agent")
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "ci"}
	h := currentHash(ds)
	ci := map[string]string{"role": "ci"}
	objs := []runtime.Object{ds, readyNode("n1", ci), readyNode("n2", ci), readyNode("n3", nil), readyNode("n4", ci),
		ready(daemonPod("p1", ds, "n1", h, 1)),
		daemonPod("p2", ds, "n2", "old", 2),
		ready(daemonPod("p3", ds, "n3", h, 3)), // n3 no longer matches the selector
	}
	f := newFixture(t, objs...)
	actions := f.sync("default/agent")
	if got := deleted(actions); !slices.Equal(got, []string{"p3"}) {
		t.Errorf("deleted %v, want [p3] (misscheduled)", got)
	}
	if got := createdOn(t, actions); !slices.Equal(got, []string{"n4"}) {
		t.Errorf("created on %v, want [n4]", got)
	}
	st := statusOf(actions)
	want := appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 2, NumberMisscheduled: 1,
		NumberReady: 1, UpdatedNumberScheduled: 1, NumberAvailable: 1, NumberUnavailable: 2, ObservedGeneration: 1}
	if st == nil || !apiequality.Semantic.DeepEqual(*st, want) {
		t.Fatalf("status = %+v\nwant     %+v", st, want)
	}
}

func TestNodeTaintsAndReadiness(t *testing.T) {
	ds := newDS("agent")
	h := currentHash(ds)
	notReady := readyNode("down", nil)
	notReady.Status.Conditions[0].Status = corev1.ConditionFalse
	cordoned := readyNode("cordoned", nil)
	cordoned.Spec.Unschedulable = true
	objs := []runtime.Object{ds, notReady, cordoned,
		readyNode("noexec", nil, corev1.Taint{Key: "evict", Effect: corev1.TaintEffectNoExecute}),
		readyNode("nosched", nil, corev1.Taint{Key: "keep", Effect: corev1.TaintEffectNoSchedule}),
		readyNode("pressure", nil, corev1.Taint{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}),
		ready(daemonPod("p-noexec", ds, "noexec", h, 1)),
		ready(daemonPod("p-nosched", ds, "nosched", h, 1)),
		ready(daemonPod("p-down", ds, "down", h, 1)),
	}
	f := newFixture(t, objs...)
	actions := f.sync("default/agent")
	// A NoExecute taint the pod does not tolerate evicts it; a NoSchedule one only keeps new
	// pods away; a node that is not Ready keeps its pod (not-ready NoExecute is tolerated).
	if got := deleted(actions); !slices.Equal(got, []string{"p-noexec"}) {
		t.Errorf("deleted %v, want [p-noexec]", got)
	}
	// Cordoned and memory-pressure nodes are tolerated by every daemon pod; a node that is not
	// Ready gets no new pod (the scheduler would not place it).
	if got := createdOn(t, actions); !slices.Equal(got, []string{"cordoned", "pressure"}) {
		t.Errorf("created on %v, want [cordoned pressure]", got)
	}
	// A toleration in the template admits the tainted node.
	ds2 := newDS("tolerant")
	ds2.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "keep", Operator: corev1.TolerationOpExists}}
	f2 := newFixture(t, ds2, readyNode("nosched", nil, corev1.Taint{Key: "keep", Effect: corev1.TaintEffectNoSchedule}))
	if got := createdOn(t, f2.sync("default/tolerant")); !slices.Equal(got, []string{"nosched"}) {
		t.Errorf("tolerating DaemonSet created on %v, want [nosched]", got)
	}
}

func TestRequiredNodeAffinity(t *testing.T) {
	ds := newDS("agent")
	ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}},
		}}}}}
	f := newFixture(t, ds, readyNode("n1", map[string]string{"zone": "a"}), readyNode("n2", map[string]string{"zone": "b"}))
	actions := f.sync("default/agent")
	if got := createdOn(t, actions); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("created on %v, want [n1]", got)
	}
	// The pod's required affinity is replaced by the node's name; the template is unchanged.
	pod := controllertest.Created[*corev1.Pod](actions, "pods")[0]
	terms := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 0 || terms[0].MatchFields[0].Values[0] != "n1" {
		t.Errorf("pod affinity terms = %+v", terms)
	}
	if len(ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions) != 1 {
		t.Error("the DaemonSet's template was modified")
	}
}

func TestPodsOfGoneNodes(t *testing.T) {
	ds := newDS("agent")
	h := currentHash(ds)
	unbound := daemonPod("p-pending", ds, "", h, 1)
	unbound.Spec.Affinity = nodeAffinityFor(nil, "gone2")
	f := newFixture(t, ds, readyNode("n1", nil), ready(daemonPod("p1", ds, "n1", h, 1)),
		ready(daemonPod("p-gone", ds, "gone", h, 1)), unbound)
	actions := f.sync("default/agent")
	if got := deleted(actions); !slices.Equal(got, []string{"p-gone", "p-pending"}) {
		t.Fatalf("deleted %v, want [p-gone p-pending]", got)
	}
	for _, a := range actions {
		if d, ok := a.(interface{ GetDeleteOptions() metav1.DeleteOptions }); ok && a.GetVerb() == "delete" && a.GetResource().Resource == "pods" {
			name := a.(interface{ GetName() string }).GetName()
			g := d.GetDeleteOptions().GracePeriodSeconds
			if name == "p-gone" && (g == nil || *g != 0) {
				t.Errorf("pod of a gone node deleted with grace %v, want 0 (no node agent finishes it)", g)
			}
		}
	}
	st := statusOf(actions)
	if st == nil || st.DesiredNumberScheduled != 1 || st.CurrentNumberScheduled != 1 || st.NumberMisscheduled != 0 {
		t.Fatalf("status = %+v", st)
	}
}

func TestFailedPodReplaced(t *testing.T) {
	ds := newDS("agent")
	failed := daemonPod("p1", ds, "n1", currentHash(ds), 1)
	failed.Status.Phase = corev1.PodFailed
	f := newFixture(t, ds, readyNode("n1", nil), failed)
	actions := f.sync("default/agent")
	if got := deleted(actions); !slices.Equal(got, []string{"p1"}) {
		t.Fatalf("deleted %v, want [p1]", got)
	}
	if ev := f.Events(); !slices.ContainsFunc(ev, func(e string) bool { return strings.HasPrefix(e, "Warning FailedDaemonPod") }) {
		t.Errorf("events %v lack FailedDaemonPod", ev)
	}
}

func TestRollingUpdateMaxUnavailable(t *testing.T) {
	ds := newDS("agent")
	three := intstr.FromInt32(2)
	ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &three
	objs := []runtime.Object{ds}
	for _, n := range []string{"n1", "n2", "n3", "n4"} {
		objs = append(objs, readyNode(n, nil), ready(daemonPod("p-"+n, ds, n, "old", 1)))
	}
	f := newFixture(t, objs...)
	actions := f.sync("default/agent")
	if got := deleted(actions); len(got) != 2 {
		t.Fatalf("deleted %v, want 2 old pods (maxUnavailable 2)", got)
	}
	if st := statusOf(actions); st == nil || st.UpdatedNumberScheduled != 0 || st.NumberAvailable != 4 {
		t.Fatalf("status = %+v", st)
	}
}

func TestRollingUpdateSurge(t *testing.T) {
	ds := newDS("agent")
	one, zero := intstr.FromInt32(1), intstr.FromInt32(0)
	ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &zero, MaxSurge: &one}
	h := currentHash(ds)
	f := newFixture(t, ds, readyNode("n1", nil), readyNode("n2", nil),
		ready(daemonPod("old1", ds, "n1", "old", 1)), ready(daemonPod("old2", ds, "n2", "old", 1)))
	actions := f.sync("default/agent")
	if got := createdOn(t, actions); len(got) != 1 || len(deleted(actions)) != 0 {
		t.Fatalf("surge: created on %v, deleted %v; want one new pod and no deletion", got, deleted(actions))
	}
	// Once a new pod is available next to an old one, the old one goes.
	f2 := newFixture(t, ds, readyNode("n1", nil), readyNode("n2", nil),
		ready(daemonPod("old1", ds, "n1", "old", 1)), ready(daemonPod("new1", ds, "n1", h, 5)),
		ready(daemonPod("old2", ds, "n2", "old", 1)))
	actions = f2.sync("default/agent")
	if got := deleted(actions); !slices.Equal(got, []string{"old1"}) {
		t.Fatalf("deleted %v, want [old1]", got)
	}
	// The deletion is awaited before the rolling update goes on (expectations), as Kubernetes.
	if got := createdOn(t, actions); len(got) != 0 {
		t.Fatalf("created on %v before the deletion was observed", got)
	}
}

func TestOnDeleteKeepsOldPods(t *testing.T) {
	ds := newDS("agent")
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	f := newFixture(t, ds, readyNode("n1", nil), ready(daemonPod("old1", ds, "n1", "old", 1)))
	actions := f.sync("default/agent")
	if got := deleted(actions); len(got) != 0 {
		t.Fatalf("OnDelete deleted %v", got)
	}
	if st := statusOf(actions); st == nil || st.UpdatedNumberScheduled != 0 || st.NumberAvailable != 1 {
		t.Fatalf("status = %+v", st)
	}
}

func TestSurplusPodsPruned(t *testing.T) {
	ds := newDS("agent")
	h := currentHash(ds)
	f := newFixture(t, ds, readyNode("n1", nil), ready(daemonPod("a-old", ds, "n1", h, 1)), ready(daemonPod("b-new", ds, "n1", h, 9)))
	if got := deleted(f.sync("default/agent")); !slices.Equal(got, []string{"b-new"}) {
		t.Fatalf("deleted %v, want the newer of two pods on a node", got)
	}
}

func TestOrphanAdopted(t *testing.T) {
	ds := newDS("agent")
	orphan := ready(daemonPod("p1", ds, "n1", currentHash(ds), 1))
	orphan.OwnerReferences = nil
	f := newFixture(t, ds, readyNode("n1", nil), orphan)
	actions := f.sync("default/agent")
	patched := false
	for _, a := range actions {
		patched = patched || (a.GetVerb() == "patch" && a.GetResource().Resource == "pods")
	}
	if !patched || len(createdOn(t, actions)) != 0 {
		t.Fatalf("orphan not adopted (patched %v) or a duplicate created: %v", patched, actions)
	}
}

func TestSelectingAllIsRefused(t *testing.T) {
	ds := newDS("agent")
	ds.Spec.Selector = &metav1.LabelSelector{}
	f := newFixture(t, ds, readyNode("n1", nil))
	if got := createdOn(t, f.sync("default/agent")); len(got) != 0 {
		t.Fatalf("created %v for a DaemonSet selecting everything", got)
	}
	if ev := f.Events(); len(ev) != 1 || !strings.Contains(ev[0], "SelectingAll") {
		t.Fatalf("events = %v", ev)
	}
}

// TestComputeHash: Kubernetes' hash (FNV-32a of the template as DeepHashObject's spew settings
// print it, safe-encoded), so a DaemonSet's revisions are named as on Kubernetes.
func TestComputeHash(t *testing.T) {
	ds := newDS("agent")
	h := fnv.New32a()
	printer := spew.ConfigState{Indent: " ", SortKeys: true, DisableMethods: true, SpewKeys: true}
	printer.Fprintf(h, "%#v", ds.Spec.Template)
	if want, got := rand.SafeEncodeString(fmt.Sprint(h.Sum32())), computeHash(&ds.Spec.Template, nil); got != want {
		t.Fatalf("computeHash = %q, want %q", got, want)
	}
	one := int32(1)
	if computeHash(&ds.Spec.Template, &one) == computeHash(&ds.Spec.Template, nil) {
		t.Fatal("the collision count does not change the hash")
	}
}
