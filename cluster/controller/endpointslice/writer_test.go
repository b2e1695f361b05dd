package endpointslice

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/controller"
)

// TestReconcileKeepsEndpointsInTheirSlices: an endpoint stays in the slice that holds it,
// whatever the slices' names and the wanted order: nothing is written when nothing changed,
// a new pod fills the slice with room and touches no other, a gone pod changes only its own
// slice, and with no pods left one slice stays as the placeholder. (Pairing wanted slices with
// existing ones by position swapped endpoints between slices, and a write between the two
// updates showed the ready pods in no slice at all.)
func TestReconcileKeepsEndpointsInTheirSlices(t *testing.T) {
	svc := webService()
	web := corev1.ContainerPort{Name: "web", ContainerPort: 8080}
	a, b, c, d := webPod("a", "10.88.0.2", true, web), webPod("b", "10.88.0.3", true, web),
		webPod("c", "10.88.0.4", false, web), webPod("d", "10.88.0.5", true, web)
	want := func(pods ...*corev1.Pod) []Slice { return Desired(svc, pods, 2) }
	owner := *metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))
	slice := func(name string, s Slice) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name),
			Labels: sliceLabels(svc), OwnerReferences: []metav1.OwnerReference{owner}},
			AddressType: discoveryv1.AddressTypeIPv4, Ports: s.Ports, Endpoints: s.Endpoints}
	}
	// web-aaaaa holds c; web-bbbbb holds a and b: the reverse of Desired's order.
	abc := want(a, b, c)
	x, y := slice("web-aaaaa", abc[1]), slice("web-bbbbb", abc[0])

	run := func(t *testing.T, want []Slice, existing ...*discoveryv1.EndpointSlice) []k8stesting.Action {
		t.Helper()
		var objs []runtime.Object
		for _, es := range existing {
			objs = append(objs, es)
		}
		cs := fake.NewClientset(objs...)
		made := 0
		cs.PrependReactor("create", "endpointslices", func(act k8stesting.Action) (bool, runtime.Object, error) {
			es := act.(k8stesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
			if es.Name == "" { // the fake does not generate names
				made++
				es.Name = es.GenerateName + string(rune('0'+made))
			}
			return false, nil, nil
		})
		clk := clocktesting.NewFakePassiveClock(time.Now())
		w := writer{client: cs, expect: controller.NewExpectations(clk), clock: clk}
		tg := target{key: "default/web", namespace: "default", name: "web", labels: sliceLabels(svc), owner: owner, max: 2}
		cs.ClearActions()
		if err := w.reconcile(context.Background(), tg, want, existing); err != nil {
			t.Fatal(err)
		}
		return cs.Actions()
	}
	writes := func(actions []k8stesting.Action) map[string][]string {
		out := map[string][]string{}
		for _, act := range actions {
			switch act.GetVerb() {
			case "update", "create":
				es := act.(k8stesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
				ips := []string{}
				for _, e := range es.Endpoints {
					ips = append(ips, e.Addresses[0])
				}
				if act.GetVerb() == "update" {
					out["update "+es.Name] = ips
				} else {
					out["create"] = append(out["create"], ips...)
				}
			case "delete":
				out["delete "+act.(k8stesting.DeleteAction).GetName()] = nil
			}
		}
		return out
	}
	check := func(t *testing.T, got map[string][]string, want map[string][]string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("writes %v, want %v", got, want)
		}
		for k, v := range want {
			g, ok := got[k]
			if !ok || len(g) != len(v) {
				t.Fatalf("writes %v, want %v", got, want)
			}
			for i := range v {
				if g[i] != v[i] {
					t.Fatalf("writes %v, want %v", got, want)
				}
			}
		}
	}

	t.Run("unchanged", func(t *testing.T) {
		check(t, writes(run(t, abc, x, y)), map[string][]string{})
	})
	t.Run("a pod added fills the slice with room", func(t *testing.T) {
		check(t, writes(run(t, want(a, b, c, d), x, y)), map[string][]string{"update web-aaaaa": {"10.88.0.4", "10.88.0.5"}})
	})
	t.Run("a pod gone changes its slice only", func(t *testing.T) {
		check(t, writes(run(t, want(b, c), x, y)), map[string][]string{"update web-bbbbb": {"10.88.0.3"}})
	})
	t.Run("a pod's conditions change in place", func(t *testing.T) {
		ready := c.DeepCopy()
		ready.Status.Conditions[0].Status = corev1.ConditionTrue
		check(t, writes(run(t, want(a, b, ready), x, y)), map[string][]string{"update web-aaaaa": {"10.88.0.4"}})
	})
	t.Run("a full slice overflows into a new one", func(t *testing.T) {
		check(t, writes(run(t, want(a, b, c, d, webPod("e", "10.88.0.6", true, web)), y)),
			map[string][]string{"create": {"10.88.0.4", "10.88.0.5", "10.88.0.6"}})
	})
	t.Run("no pods leave one placeholder", func(t *testing.T) {
		// The placeholder has no ports, so it is a new slice, as in Kubernetes.
		check(t, writes(run(t, want(), x, y)), map[string][]string{"create": {}, "delete web-aaaaa": nil, "delete web-bbbbb": nil})
	})
}
