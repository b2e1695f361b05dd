package serviceip_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/serviceip"
	"github.com/drover-ci/drover/internal/logtest"
)

// run starts a serviceip controller until the returned stop is called.
func run(t *testing.T, cs kubernetes.Interface, rec record.EventRecorder) (stop func()) {
	t.Helper()
	factory := informers.NewSharedInformerFactory(cs, 0)
	c, err := serviceip.New(controller.Context{Logger: logtest.New(t), Client: cs, Informers: factory,
		Recorder: func(string) record.EventRecorder { return rec }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	factory.Start(ctx.Done())
	go func() { defer close(done); _ = c.Run(ctx) }()
	stop = func() { cancel(); <-done; factory.Shutdown() }
	t.Cleanup(stop)
	return stop
}

func service(name string, typ corev1.ServiceType, clusterIP string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8080}, {Name: "agent", Port: 50000}}},
	}
}

// waitAllocated waits until the named services have cluster IPs (and node ports where due).
func waitAllocated(t *testing.T, cs kubernetes.Interface, names ...string) map[string]*corev1.Service {
	t.Helper()
	out := map[string]*corev1.Service{}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range names {
		for {
			s, err := cs.CoreV1().Services("default").Get(context.Background(), n, metav1.GetOptions{})
			if err == nil && s.Spec.ClusterIP != "" && (s.Spec.Type == corev1.ServiceTypeClusterIP || s.Spec.Ports[0].NodePort != 0) {
				out[n] = s
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("service %s not allocated: %+v, %v", n, s, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return out
}

func TestIntegrationUniqueAcrossRestart(t *testing.T) {
	srv := apiservertest.Start(t)
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	rec := record.NewFakeRecorder(100)
	stop := run(t, cs, rec)
	create := func(s *corev1.Service) {
		t.Helper()
		if _, err := cs.CoreV1().Services("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create(service("jenkins", corev1.ServiceTypeNodePort, ""))
	create(service("web", corev1.ServiceTypeClusterIP, ""))
	create(service("lb", corev1.ServiceTypeLoadBalancer, ""))
	create(service("headless", corev1.ServiceTypeClusterIP, corev1.ClusterIPNone))
	got := waitAllocated(t, cs, "kubernetes", "jenkins", "web", "lb")
	if ip := got["kubernetes"].Spec.ClusterIP; ip != "10.96.0.1" {
		t.Errorf("kubernetes service IP = %s", ip)
	}
	stop() // a new leader: allocations come back from the services
	run(t, cs, rec)
	create(service("after", corev1.ServiceTypeNodePort, ""))
	for k, v := range waitAllocated(t, cs, "after") {
		got[k] = v
	}

	ips, nodePorts := map[string]string{}, map[int32]string{}
	cidr := netip.MustParsePrefix("10.96.0.0/16")
	for name, s := range got {
		if prev, dup := ips[s.Spec.ClusterIP]; dup {
			t.Errorf("%s and %s share %s", name, prev, s.Spec.ClusterIP)
		}
		ips[s.Spec.ClusterIP] = name
		if !cidr.Contains(netip.MustParseAddr(s.Spec.ClusterIP)) {
			t.Errorf("%s: %s outside the CIDR", name, s.Spec.ClusterIP)
		}
		for _, p := range s.Spec.Ports {
			if s.Spec.Type == corev1.ServiceTypeClusterIP {
				continue
			}
			if p.NodePort < 30000 || p.NodePort > 32767 {
				t.Errorf("%s: node port %d out of range", name, p.NodePort)
			}
			if prev, dup := nodePorts[p.NodePort]; dup {
				t.Errorf("%s and %s share node port %d", name, prev, p.NodePort)
			}
			nodePorts[p.NodePort] = name
		}
	}
	if len(nodePorts) != 6 {
		t.Errorf("%d node ports, want 6 (3 services × 2 ports): %v", len(nodePorts), nodePorts)
	}
	h, err := cs.CoreV1().Services("default").Get(ctx, "headless", metav1.GetOptions{})
	if err != nil || h.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("headless service: %+v, %v", h, err)
	}

	// Asking for a taken address is refused by the API server, which allocates (as Kubernetes).
	_, err = cs.CoreV1().Services("default").Create(ctx, service("copycat", corev1.ServiceTypeClusterIP, got["web"].Spec.ClusterIP), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Fatalf("copycat of a taken cluster IP: %v, want 422 provided IP is already allocated", err)
	}
}
