package endpointslice

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestIntegrationMirroring runs the mirroring controller against the real API server, as the
// conformance test "should mirror a custom Endpoints resource through create update and delete"
// does: hand-made Endpoints of a selector-less Service get a mirrored slice (owned by the
// Endpoints, their labels plus service-name and managed-by) that follows their updates and
// goes with them; skip-mirror Endpoints get none.
func TestIntegrationMirroring(t *testing.T) {
	_, cs := controllertest.Run(t, func(cc controller.Context) (*Mirroring, error) {
		cc.Options.Workers = 1 // one worker: keys are synced in the order they were queued
		return NewMirroring(cc)
	})
	ctx := t.Context()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "manual"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "manual", Labels: map[string]string{"team": "a"}},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.1.2.3"}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.1.2.4"}}, Ports: []corev1.EndpointPort{{Name: "http", Port: 8080}}}}}
	made, err := cs.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mirrored := func(check func(es discoveryv1.EndpointSlice) bool) func() bool {
		return func() bool {
			s := slicesOf(ctx, cs, "manual")
			return len(s) == 1 && check(s[0])
		}
	}
	uptest.Eventually(t, 10*time.Second, "the mirrored slice", mirrored(func(es discoveryv1.EndpointSlice) bool {
		ref := metav1.GetControllerOf(&es)
		return es.Labels[discoveryv1.LabelManagedBy] == MirroringControllerName && es.Labels["team"] == "a" &&
			ref != nil && ref.Kind == "Endpoints" && ref.UID == made.UID && len(es.Endpoints) == 2 &&
			*es.Endpoints[0].Conditions.Ready && !*es.Endpoints[1].Conditions.Ready &&
			len(es.Ports) == 1 && *es.Ports[0].Port == 8080 && *es.Ports[0].Name == "http"
	}))
	made.Subsets[0].Addresses[0].IP = "10.1.2.5"
	if made, err = cs.CoreV1().Endpoints("default").Update(ctx, made, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the slice following the update", mirrored(func(es discoveryv1.EndpointSlice) bool {
		// The kept endpoint stays where it was and the new one comes after it, as Kubernetes'
		// reconciler places them; what counts is which addresses and conditions the slice holds.
		ready := map[string]bool{}
		for _, e := range es.Endpoints {
			ready[e.Addresses[0]] = *e.Conditions.Ready
		}
		r5, ok5 := ready["10.1.2.5"]
		r4, ok4 := ready["10.1.2.4"]
		return len(es.Endpoints) == 2 && ok5 && r5 && ok4 && !r4
	}))
	if err := cs.CoreV1().Endpoints("default").Delete(ctx, "manual", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the slice gone with the endpoints", func() bool { return len(slicesOf(ctx, cs, "manual")) == 0 })

	skip := ep.DeepCopy()
	skip.Labels = map[string]string{discoveryv1.LabelSkipMirror: "true"}
	if _, err := cs.CoreV1().Endpoints("default").Create(ctx, skip, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Barrier: a second mirrored Service, created after; once its slice exists the skip-mirror
	// Endpoints have been synced too (one worker takes the keys in the order they were queued).
	other := svc.DeepCopy()
	other.Name = "other"
	if _, err := cs.CoreV1().Services("default").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	oep := ep.DeepCopy()
	oep.Name = "other"
	if _, err := cs.CoreV1().Endpoints("default").Create(ctx, oep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the barrier's slice", func() bool { return len(slicesOf(ctx, cs, "other")) == 1 })
	if s := slicesOf(ctx, cs, "manual"); len(s) != 0 {
		t.Errorf("skip-mirror Endpoints mirrored: %+v", s)
	}
}
