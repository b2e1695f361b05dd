package endpoints

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

func jenkinsService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "jenkins", Namespace: "default", Labels: map[string]string{"app": "jenkins"}},
		Spec: corev1.ServiceSpec{
			Selector:  map[string]string{"name": "jenkins"},
			ClusterIP: "10.96.0.20",
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")},
				{Name: "slave", Port: 50000, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(50000)},
			},
		},
	}
}

func pod(name, ip string, ready bool, ports ...corev1.ContainerPort) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: map[string]string{"name": "jenkins"}},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Ports: ports}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

func TestSubsetsResolveNamedPortsAndReadiness(t *testing.T) {
	web := corev1.ContainerPort{Name: "web", ContainerPort: 8081, Protocol: corev1.ProtocolTCP}
	gone := pod("gone", "10.88.0.9", true, web)
	now := metav1.Now()
	gone.DeletionTimestamp = &now
	pods := []*corev1.Pod{
		pod("b", "10.88.0.3", true, web),
		pod("a", "10.88.0.2", false, web),
		pod("noname", "10.88.0.4", true), // lacks the "web" port: only in the slave subset
		pod("noip", "", true, web),
		gone,
	}
	got := Subsets(jenkinsService(), pods)
	node := "n1"
	addr := func(name, ip string) corev1.EndpointAddress {
		return corev1.EndpointAddress{IP: ip, NodeName: &node, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: name, UID: types.UID("uid-" + name)}}
	}
	want := []corev1.EndpointSubset{
		{
			Addresses:         []corev1.EndpointAddress{addr("b", "10.88.0.3")},
			NotReadyAddresses: []corev1.EndpointAddress{addr("a", "10.88.0.2")},
			Ports: []corev1.EndpointPort{{Name: "http", Port: 8081, Protocol: corev1.ProtocolTCP},
				{Name: "slave", Port: 50000, Protocol: corev1.ProtocolTCP}},
		},
		{
			Addresses: []corev1.EndpointAddress{addr("noname", "10.88.0.4")},
			Ports:     []corev1.EndpointPort{{Name: "slave", Port: 50000, Protocol: corev1.ProtocolTCP}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subsets (-want +got):\n%s", diff)
	}
}

func TestSubsetsPublishNotReady(t *testing.T) {
	svc := jenkinsService()
	svc.Spec.PublishNotReadyAddresses = true
	got := Subsets(svc, []*corev1.Pod{pod("a", "10.88.0.2", false, corev1.ContainerPort{Name: "web", ContainerPort: 8080})})
	if len(got) != 1 || len(got[0].Addresses) != 1 || len(got[0].NotReadyAddresses) != 0 {
		t.Fatalf("publishNotReadyAddresses: got %+v, want the unready pod in addresses", got)
	}
}

// TestSubsetsHostname: an address names the pod's hostname when the pod's subdomain is the
// service (a StatefulSet's pods and their governing service), as Kubernetes' endpoints
// controller does, whether or not the service is headless.
func TestSubsetsHostname(t *testing.T) {
	web := corev1.ContainerPort{Name: "web", ContainerPort: 8080}
	member := pod("web-0", "10.88.0.2", true, web)
	member.Spec.Hostname, member.Spec.Subdomain = "web-0", "jenkins"
	other := pod("web-1", "10.88.0.3", true, web)
	other.Spec.Hostname, other.Spec.Subdomain = "web-1", "elsewhere"
	for _, ip := range []string{"10.96.0.20", corev1.ClusterIPNone} {
		svc := jenkinsService()
		svc.Spec.ClusterIP = ip
		got := Subsets(svc, []*corev1.Pod{member, other})
		if len(got) != 1 || len(got[0].Addresses) != 2 {
			t.Fatalf("clusterIP %s: subsets %+v", ip, got)
		}
		if h := got[0].Addresses[0].Hostname; h != "web-0" {
			t.Errorf("clusterIP %s: web-0's address hostname %q, want web-0", ip, h)
		}
		if h := got[0].Addresses[1].Hostname; h != "" {
			t.Errorf("clusterIP %s: web-1 (subdomain elsewhere) has hostname %q", ip, h)
		}
	}
}

// TestControllerWritesAndFollows runs the controller on a fake clientset: it creates the
// Endpoints, follows a pod becoming ready, and deletes them with the service.
func TestControllerWritesAndFollows(t *testing.T) {
	p := pod("a", "10.88.0.2", false, corev1.ContainerPort{Name: "web", ContainerPort: 8080})
	client := fake.NewSimpleClientset(jenkinsService(), p)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(controller.Context{Logger: logtest.New(t), Client: client, Informers: factory,
		Recorder: func(string) record.EventRecorder { return record.NewFakeRecorder(10) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	go func() { _ = c.Run(ctx) }()

	uptest.Eventually(t, 10*time.Second, "endpoints with the pod not ready", func() bool {
		ep, err := client.CoreV1().Endpoints("default").Get(ctx, "jenkins", metav1.GetOptions{})
		return err == nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].NotReadyAddresses) == 1 && ep.Labels["app"] == "jenkins"
	})
	p.Status.Conditions[0].Status = corev1.ConditionTrue
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the pod in addresses once ready", func() bool {
		ep, err := client.CoreV1().Endpoints("default").Get(ctx, "jenkins", metav1.GetOptions{})
		return err == nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 1 && ep.Subsets[0].Addresses[0].IP == "10.88.0.2"
	})
	if err := client.CoreV1().Services("default").Delete(ctx, "jenkins", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "endpoints deleted with the service", func() bool {
		_, err := client.CoreV1().Endpoints("default").Get(ctx, "jenkins", metav1.GetOptions{})
		return err != nil
	})
}
