package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/utils/ptr"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

func priorityPod(name, class string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{PriorityClassName: class, AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}
	if mutate != nil {
		mutate(p)
	}
	return p
}

// wantForbiddenExactly fails unless err is a 403 with exactly msg.
func wantForbiddenExactly(t *testing.T, what string, err error, msg string) {
	t.Helper()
	if !apierrors.IsForbidden(err) || err.Error() != msg {
		t.Errorf("%s: %v, want 403 %q", what, err, msg)
	}
}

// TestPriorityClassesSystemClasses: the system classes exist from the start with Kubernetes'
// values, cannot be deleted (kube-apiserver's 403) nor changed in value, the system- prefix
// is reserved, and a class a deletecollection removed (which kube-apiserver does not refuse)
// comes back at the next start.
func TestPriorityClassesSystemClasses(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	dir := t.TempDir()
	srv := apiservertest.StartWith(t, st, dir)
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	pcs := cs.SchedulingV1().PriorityClasses()
	for name, value := range map[string]int32{"system-node-critical": 2000001000, "system-cluster-critical": 2000000000} {
		pc, err := pcs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if pc.Value != value || pc.GlobalDefault || pc.PreemptionPolicy == nil || *pc.PreemptionPolicy != corev1.PreemptLowerPriority || pc.Description == "" {
			t.Errorf("%s: %+v", name, pc)
		}
		err = pcs.Delete(ctx, name, metav1.DeleteOptions{})
		wantForbiddenExactly(t, "delete "+name, err, `priorityclasses.scheduling.k8s.io "`+name+`" is forbidden: this is a system priority class and cannot be deleted`)
		pc.Value++
		_, err = pcs.Update(ctx, pc, metav1.UpdateOptions{})
		if !apierrors.IsInvalid(err) || err.Error() != `PriorityClass.scheduling.k8s.io "`+name+`" is invalid: value: Forbidden: may not be changed in an update.` {
			t.Errorf("update %s value: %v", name, err)
		}
	}
	_, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 10}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || err.Error() != `PriorityClass.scheduling.k8s.io "system-mine" is invalid: metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class` {
		t.Errorf("create system-mine: %v", err)
	}
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "huge"}, Value: 1000000001}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || err.Error() != `PriorityClass.scheduling.k8s.io "huge" is invalid: value: Forbidden: maximum allowed value of a user defined priority is 1000000000` {
		t.Errorf("create huge: %v", err)
	}

	if err := pcs.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pcs.Get(ctx, "system-node-critical", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after deletecollection: %v", err)
	}
	srv.Stop()
	srv = apiservertest.StartWith(t, st, dir)
	cs = clientFor(t, srv.Config)
	list, err := cs.SchedulingV1().PriorityClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Errorf("after a restart: %d classes, want the 2 system ones", len(list.Items))
	}
}

// TestPriorityAdmission: Kubernetes' Priority admission plugin on pod creation (an unknown
// class refused, the class's value and preemption policy copied in, a differing priority
// refused, the global default class or 0 for a pod naming none, the system classes in any
// namespace as in 1.32), on pod updates (the priority kept when left out), and on
// PriorityClasses (one global default).
func TestPriorityAdmission(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	pcs := cs.SchedulingV1().PriorityClasses()

	p, err := pods.Create(ctx, priorityPod("plain", "", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Priority == nil || *p.Spec.Priority != 0 || p.Spec.PreemptionPolicy == nil || *p.Spec.PreemptionPolicy != corev1.PreemptLowerPriority || p.Spec.PriorityClassName != "" {
		t.Errorf("pod without a class: priority %v, policy %v, class %q", p.Spec.Priority, p.Spec.PreemptionPolicy, p.Spec.PriorityClassName)
	}
	_, err = pods.Create(ctx, priorityPod("unknown", "nope", nil), metav1.CreateOptions{})
	wantForbiddenExactly(t, "unknown class", err, `pods "unknown" is forbidden: no PriorityClass with name nope was found`)

	if _, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000,
		PreemptionPolicy: ptr.To(corev1.PreemptNever)}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err = pods.Create(ctx, priorityPod("high", "high", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *p.Spec.Priority != 1000 || *p.Spec.PreemptionPolicy != corev1.PreemptNever {
		t.Errorf("pod of class high: priority %d, policy %s", *p.Spec.Priority, *p.Spec.PreemptionPolicy)
	}
	if _, err := pods.Create(ctx, priorityPod("same", "high", func(p *corev1.Pod) { p.Spec.Priority = ptr.To(int32(1000)) }), metav1.CreateOptions{}); err != nil {
		t.Errorf("pod giving its class's priority: %v", err)
	}
	_, err = pods.Create(ctx, priorityPod("other", "high", func(p *corev1.Pod) { p.Spec.Priority = ptr.To(int32(7)) }), metav1.CreateOptions{})
	wantForbiddenExactly(t, "other priority", err, `pods "other" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name`)
	_, err = pods.Create(ctx, priorityPod("policy", "high", func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority) }), metav1.CreateOptions{})
	wantForbiddenExactly(t, "other policy", err, `pods "policy" is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in pod spec; priority admission controller computed Never from the given PriorityClass name`)
	p, err = pods.Create(ctx, priorityPod("critical", "system-node-critical", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("system class outside kube-system: %v", err)
	}
	if *p.Spec.Priority != 2000001000 {
		t.Errorf("system-node-critical pod: priority %d", *p.Spec.Priority)
	}

	// An update leaving the priority out keeps it; changing it is refused by validation.
	p.Spec.Priority, p.Spec.PreemptionPolicy = nil, nil
	p.Labels = map[string]string{"updated": "yes"}
	p, err = pods.Update(ctx, p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.Priority == nil || *p.Spec.Priority != 2000001000 || p.Spec.PreemptionPolicy == nil {
		t.Errorf("priority after an update without it: %v %v", p.Spec.Priority, p.Spec.PreemptionPolicy)
	}
	p.Spec.Priority = ptr.To(int32(3))
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("priority changed by an update: %v", err)
	}

	// One global default: pods naming no class get it.
	dflt, err := pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "everyone"}, Value: 5, GlobalDefault: true}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pcs.Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "second"}, Value: 6, GlobalDefault: true}, metav1.CreateOptions{})
	wantForbiddenExactly(t, "second default", err, `priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass everyone is already marked as default. Only one default can exist`)
	high, err := pcs.Get(ctx, "high", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	high.GlobalDefault = true
	_, err = pcs.Update(ctx, high, metav1.UpdateOptions{})
	wantForbiddenExactly(t, "high made default", err, `priorityclasses.scheduling.k8s.io "high" is forbidden: PriorityClass everyone is already marked as default. Only one default can exist`)
	dflt.Description = "the default"
	if upd, err := pcs.Update(ctx, dflt, metav1.UpdateOptions{}); err != nil || upd.Generation != dflt.Generation {
		t.Errorf("the default class updated: %v (generation %d → %d, which Kubernetes never bumps)", err, dflt.Generation, upd.Generation)
	}
	// Pod creates read the classes from the informers, which hold the new default a moment
	// later (as kube-apiserver's lister does); dry runs until then.
	eventually(t, 10*time.Second, "the default class applied to pods", func() (bool, error) {
		p, err := pods.Create(ctx, priorityPod("defaulted", "", nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil && p.Spec.PriorityClassName == "everyone", err
	})
	p, err = pods.Create(ctx, priorityPod("defaulted", "", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.PriorityClassName != "everyone" || *p.Spec.Priority != 5 || *p.Spec.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("pod under a default class: class %q, priority %d, policy %s", p.Spec.PriorityClassName, *p.Spec.Priority, *p.Spec.PreemptionPolicy)
	}
}

// priorityClassReads counts the store reads of PriorityClasses.
type priorityClassReads struct {
	store.Store
	n atomic.Int64
}

func (s *priorityClassReads) count(key string) {
	if strings.HasPrefix(key, "scheduling.k8s.io/priorityclasses/") {
		s.n.Add(1)
	}
}

func (s *priorityClassReads) List(ctx context.Context, prefix string) ([]store.KV, int64, error) {
	s.count(prefix)
	return s.Store.List(ctx, prefix)
}

func (s *priorityClassReads) Get(ctx context.Context, key string) (store.KV, error) {
	s.count(key)
	return s.Store.Get(ctx, key)
}

// TestPriorityAdmissionReadsInformers: once the loopback informers hold the PriorityClasses,
// a pod create reads none from the store (kube-apiserver's plugin reads its lister), whether
// it names a class or gets the default; a class the informers do not hold yet is read from
// the store rather than refused.
func TestPriorityAdmissionReadsInformers(t *testing.T) {
	t.Parallel()
	st := &priorityClassReads{Store: memstore.New()}
	srv := apiservertest.StartWith(t, st, t.TempDir())
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	i := 0
	create := func(class string) (*corev1.Pod, error) {
		i++
		return pods.Create(ctx, priorityPod(fmt.Sprintf("p%d", i), class, nil), metav1.CreateOptions{})
	}
	eventually(t, 10*time.Second, "a pod create reading no PriorityClass from the store", func() (bool, error) {
		before := st.n.Load()
		_, err := create("")
		return err == nil && st.n.Load() == before, err
	})
	before := st.n.Load()
	for range 10 {
		if _, err := create(""); err != nil {
			t.Fatal(err)
		}
		if _, err := create("system-cluster-critical"); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.n.Load() - before; n != 0 {
		t.Errorf("20 pod creates read PriorityClasses from the store %d times, want 0 (the informers')", n)
	}
	// A class created this instant: found in the store if the informers have not seen it.
	if _, err := cs.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}, Value: 42}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := create("fresh")
	if err != nil {
		t.Fatalf("pod naming a class created just before: %v", err)
	}
	if *p.Spec.Priority != 42 {
		t.Errorf("pod of class fresh: priority %d, want 42", *p.Spec.Priority)
	}
}

// TestDiscoverySchedulingAndEventsGroups: scheduling.k8s.io/v1 and events.k8s.io/v1 are in
// aggregated and legacy discovery (what the conformance suite's discovery specs read), and
// events.k8s.io events publish the core events' storageVersionHash (legacy discovery carries
// it), as one stored resource.
func TestDiscoverySchedulingAndEventsGroups(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	dc := discovery.NewDiscoveryClientForConfigOrDie(srv.Config)
	for name, d := range map[string]discovery.DiscoveryInterface{"aggregated": dc, "legacy": dc.WithLegacy()} {
		_, lists, err := d.ServerGroupsAndResources()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[string]metav1.APIResource{}
		for _, l := range lists {
			for _, r := range l.APIResources {
				got[l.GroupVersion+" "+r.Name] = r
			}
		}
		pc, ok := got["scheduling.k8s.io/v1 priorityclasses"]
		if !ok || pc.Namespaced || pc.Kind != "PriorityClass" || len(pc.ShortNames) != 1 || pc.ShortNames[0] != "pc" || len(pc.Verbs) != 8 {
			t.Errorf("%s: priorityclasses %+v (found %v)", name, pc, ok)
		}
		ev, ok := got["events.k8s.io/v1 events"]
		if !ok || !ev.Namespaced || ev.Kind != "Event" || len(ev.Verbs) != 8 {
			t.Errorf("%s: events.k8s.io events %+v (found %v)", name, ev, ok)
		}
		if core := got["v1 events"]; name == "legacy" && (ev.StorageVersionHash == "" || ev.StorageVersionHash != core.StorageVersionHash) {
			t.Errorf("%s: storageVersionHash %q, core events' %q", name, ev.StorageVersionHash, core.StorageVersionHash)
		}
	}
}
