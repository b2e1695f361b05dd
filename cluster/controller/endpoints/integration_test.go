package endpoints_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/cluster/controller/endpoints"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestIntegrationHandMadeEndpointsStay: an Endpoints object with no Service of its name is the
// user's (upstream conformance "should test the lifecycle of an Endpoint" creates, updates and
// patches one): the controller must neither delete it when it changes nor touch it.
func TestIntegrationHandMadeEndpointsStay(t *testing.T) {
	_, cs := controllertest.Run(t, func(cc controller.Context) (*endpoints.Controller, error) {
		cc.Options.Workers = 1 // one worker: keys are synced in the order they were queued
		return endpoints.New(cc)
	})
	ctx := t.Context()
	eps := cs.CoreV1().Endpoints("default")
	// A Service the controller manages, whose Endpoints serve as a barrier below.
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "barrier"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "none"}, Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the controller's Endpoints of barrier", func() bool {
		_, err := eps.Get(ctx, "barrier", metav1.GetOptions{})
		return err == nil
	})

	manual := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "manual"}, Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.0.0.24"}}, Ports: []corev1.EndpointPort{{Name: "http", Port: 80}}}}}
	made, err := eps.Create(ctx, manual, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	made.Labels = map[string]string{"test-endpoint": "updated"}
	made.Subsets[0].Addresses[0].IP = "10.0.0.25"
	if _, err := eps.Update(ctx, made, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Barrier: change the controller's Endpoints after the hand-made one; the controller puts
	// them back, and with one worker it has synced every earlier key by then.
	b, err := eps.Get(ctx, "barrier", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Subsets = []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.0.0.99"}}, Ports: []corev1.EndpointPort{{Port: 80}}}}
	if _, err := eps.Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "barrier's Endpoints put back", func() bool {
		b, err := eps.Get(ctx, "barrier", metav1.GetOptions{})
		return err == nil && len(b.Subsets) == 0
	})
	got, err := eps.Get(ctx, "manual", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("hand-made Endpoints without a Service removed after an update: %v", err)
	}
	if len(got.Subsets) != 1 || got.Subsets[0].Addresses[0].IP != "10.0.0.25" || got.Labels["test-endpoint"] != "updated" {
		t.Errorf("hand-made Endpoints changed by the controller: %+v", got)
	}
}
