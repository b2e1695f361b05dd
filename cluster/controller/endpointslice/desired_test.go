package endpointslice

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func webService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "svc-uid", Labels: map[string]string{"app": "web"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.96.0.20",
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")},
				{Name: "agent", Port: 50000, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(50000)},
			}},
	}
}

func webPod(name, ip string, ready bool, ports ...corev1.ContainerPort) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Ports: ports}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

// TestDesiredConditionsAndPorts: ready, not ready and terminating pods with their conditions;
// a pod lacking the named port in a slice of its own; pods without an IP or finished left out.
func TestDesiredConditionsAndPorts(t *testing.T) {
	web := corev1.ContainerPort{Name: "web", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}
	gone := webPod("gone", "10.88.0.9", true, web)
	now := metav1.Now()
	gone.DeletionTimestamp = &now
	done := webPod("done", "10.88.0.8", false, web)
	done.Status.Phase = corev1.PodSucceeded
	got := Desired(webService(), []*corev1.Pod{
		webPod("b", "10.88.0.3", true, web), webPod("a", "10.88.0.2", false, web), webPod("noname", "10.88.0.4", true),
		webPod("noip", "", true, web), gone, done,
	}, MaxEndpointsPerSlice)
	ep := func(name, ip string, ready, serving, terminating bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr.To("n1"),
			Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: name, UID: types.UID("uid-" + name)}}
	}
	port := func(name string, n int32) discoveryv1.EndpointPort {
		return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(n), Protocol: ptr.To(corev1.ProtocolTCP)}
	}
	want := []Slice{
		{Ports: []discoveryv1.EndpointPort{port("agent", 50000)}, Endpoints: []discoveryv1.Endpoint{ep("noname", "10.88.0.4", true, true, false)}},
		{Ports: []discoveryv1.EndpointPort{port("http", 8080), port("agent", 50000)}, Endpoints: []discoveryv1.Endpoint{
			ep("a", "10.88.0.2", false, false, false), ep("b", "10.88.0.3", true, true, false), ep("gone", "10.88.0.9", false, true, true)}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("slices (-want +got):\n%s", diff)
	}
}

// TestDesiredCutsAtMax: 250 endpoints make slices of 100, 100 and 50; no pods, one empty
// placeholder.
func TestDesiredCutsAtMax(t *testing.T) {
	var pods []*corev1.Pod
	for i := 0; i < 250; i++ {
		pods = append(pods, webPod(fmt.Sprintf("p%d", i), fmt.Sprintf("10.88.%d.%d", i/200, i%200+1), true,
			corev1.ContainerPort{Name: "web", ContainerPort: 8080}))
	}
	var sizes []int
	for _, s := range Desired(webService(), pods, MaxEndpointsPerSlice) {
		sizes = append(sizes, len(s.Endpoints))
	}
	if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
		t.Errorf("slice sizes (-want +got):\n%s", diff)
	}
	if got := Desired(webService(), nil, MaxEndpointsPerSlice); len(got) != 1 || len(got[0].Endpoints) != 0 || len(got[0].Ports) != 0 {
		t.Errorf("no pods: %+v, want one empty placeholder", got)
	}
}
