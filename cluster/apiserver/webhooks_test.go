package apiserver

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/drover-ci/drover/cluster/store/memstore"
)

// A webhook behind a Service is called at a ready endpoint of the Service's port (by the
// port's name in the Endpoints), not at the cluster IP: the API server may run on a host
// without the service proxy.
func TestEndpointResolver(t *testing.T) {
	ctx := context.Background()
	s, err := New(Config{Store: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	svcs, _ := s.resources.Lookup(corev1.SchemeGroupVersion.WithResource("services"))
	eps, _ := s.resources.Lookup(corev1.SchemeGroupVersion.WithResource("endpoints"))
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: "default"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "hook"},
		Ports:    []corev1.ServicePort{{Name: "metrics", Port: 9090}, {Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)}}}}
	if _, err := s.create(ctx, svcs, "default", svc, false); err != nil {
		t.Fatal(err)
	}
	r := endpointResolver{s: s}
	if _, err := r.ResolveEndpoint("default", "hook", 443); err == nil {
		t.Error("resolved a Service without Endpoints")
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: "default"}, Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.0.0.7"}},
		Ports:     []corev1.EndpointPort{{Name: "metrics", Port: 9091}, {Name: "https", Port: 8443}}}}}
	if _, err := s.create(ctx, eps, "default", ep, false); err != nil {
		t.Fatal(err)
	}
	u, err := r.ResolveEndpoint("default", "hook", 443)
	if err != nil || u.String() != "https://10.0.0.7:8443" {
		t.Errorf("resolved %v, %v; want https://10.0.0.7:8443", u, err)
	}
	if _, err := r.ResolveEndpoint("default", "hook", 444); err == nil {
		t.Error("resolved a port the Service does not have")
	}
}
