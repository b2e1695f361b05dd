package endpointslice

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
)

// TestSyncCreatesThenUpdatesInPlace: the first sync creates one slice named, labelled and
// owned as Kubernetes' controller does; once the cache shows it, a pod becoming ready updates
// that slice rather than making another.
func TestSyncCreatesThenUpdatesInPlace(t *testing.T) {
	svc := webService()
	p := webPod("a", "10.88.0.2", false, corev1.ContainerPort{Name: "web", ContainerPort: 8080})
	f := controllertest.NewFake(time.Now(), 10, svc, p)
	x := controllertest.NewFixture(t, f, New, svc, p)
	created := controllertest.Created[*discoveryv1.EndpointSlice](x.Actions("first sync", func(ctx context.Context) error {
		return x.C.sync(ctx, "default/web")
	}), "endpointslices")
	if len(created) != 1 {
		t.Fatalf("created %d slices, want 1", len(created))
	}
	es := created[0]
	if es.GenerateName != "web-" || es.AddressType != discoveryv1.AddressTypeIPv4 ||
		es.Labels[discoveryv1.LabelServiceName] != "web" || es.Labels[discoveryv1.LabelManagedBy] != ControllerName || es.Labels["app"] != "web" {
		t.Errorf("slice metadata: %+v", es.ObjectMeta)
	}
	if ref := metav1.GetControllerOf(es); ref == nil || ref.UID != svc.UID || ref.Kind != "Service" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("owner: %+v", es.OwnerReferences)
	}
	if len(es.Endpoints) != 1 || *es.Endpoints[0].Conditions.Ready {
		t.Errorf("endpoints: %+v", es.Endpoints)
	}

	stored := es.DeepCopy()
	stored.Name, stored.GenerateName, stored.UID = "web-abcde", "", "slice-uid"
	ready := p.DeepCopy()
	ready.Status.Conditions[0].Status = corev1.ConditionTrue
	if err := f.Client.Tracker().Add(stored); err != nil {
		t.Fatal(err)
	}
	x.Put(stored, ready)
	x.C.sliceChanged(stored, sliceAdded) // the informer's add event
	actions := x.Actions("second sync", func(ctx context.Context) error { return x.C.sync(ctx, "default/web") })
	if n := len(controllertest.Created[*discoveryv1.EndpointSlice](actions, "endpointslices")); n != 0 {
		t.Errorf("second sync created %d slices", n)
	}
	var updated *discoveryv1.EndpointSlice
	for _, a := range actions {
		if a.GetVerb() == "update" && a.GetResource().Resource == "endpointslices" {
			updated = a.(k8stesting.UpdateAction).GetObject().(*discoveryv1.EndpointSlice)
		}
	}
	if updated == nil || updated.Name != "web-abcde" || !*updated.Endpoints[0].Conditions.Ready {
		t.Errorf("update: %+v", updated)
	}
}
