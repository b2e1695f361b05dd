package apiserver_test

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

func svcOf(name string, typ corev1.ServiceType, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{
		Type: typ, Selector: map[string]string{"app": name}, Ports: ports}}
}

func tcp(port, nodePort int32) corev1.ServicePort {
	return corev1.ServicePort{Name: fmt.Sprintf("p%d", port), Port: port, Protocol: corev1.ProtocolTCP, NodePort: nodePort}
}

// wantInvalid checks a 422 naming field with Kubernetes' message.
func wantInvalid(t *testing.T, err error, field, msg string) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("err = %v, want 422 Invalid", err)
	}
	st := err.(apierrors.APIStatus).Status()
	if st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != field || !strings.Contains(st.Details.Causes[0].Message, msg) {
		t.Fatalf("details %+v, want field %s with %q", st.Details, field, msg)
	}
}

// TestServiceAllocationInCreateResponse: as in Kubernetes, a Service has its cluster IP and
// node ports in the create response; values named that are taken are refused with a 422; a
// deleted Service's values are free again at once; an update to NodePort gets node ports.
func TestServiceAllocationInCreateResponse(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	svcs := cs.CoreV1().Services("default")
	cidr := netip.MustParsePrefix("10.96.0.0/16")

	a, err := svcs.Create(ctx, svcOf("a", corev1.ServiceTypeClusterIP, tcp(80, 0)), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ip, err := netip.ParseAddr(a.Spec.ClusterIP)
	if err != nil || !cidr.Contains(ip) || len(a.Spec.ClusterIPs) != 1 || a.Spec.ClusterIPs[0] != a.Spec.ClusterIP {
		t.Fatalf("created ClusterIP service: clusterIP %q clusterIPs %v", a.Spec.ClusterIP, a.Spec.ClusterIPs)
	}
	udp := corev1.ServicePort{Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP}
	dnsTCP := corev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}
	np, err := svcs.Create(ctx, svcOf("np", corev1.ServiceTypeNodePort, tcp(80, 0), udp, dnsTCP), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if np.Spec.ClusterIP == "" || np.Spec.ClusterIP == a.Spec.ClusterIP {
		t.Errorf("NodePort service clusterIP %q (first service %q)", np.Spec.ClusterIP, a.Spec.ClusterIP)
	}
	for _, p := range np.Spec.Ports {
		if p.NodePort < 30000 || p.NodePort > 32767 {
			t.Errorf("port %s: nodePort %d not allocated in 30000-32767", p.Name, p.NodePort)
		}
	}
	if np.Spec.Ports[0].NodePort == np.Spec.Ports[1].NodePort || np.Spec.Ports[1].NodePort != np.Spec.Ports[2].NodePort {
		t.Errorf("node ports %+v: want one per port number, shared by TCP and UDP", np.Spec.Ports)
	}

	// Taken values are refused, as Kubernetes does.
	dup := svcOf("dup-ip", corev1.ServiceTypeClusterIP, tcp(80, 0))
	dup.Spec.ClusterIP = a.Spec.ClusterIP
	_, err = svcs.Create(ctx, dup, metav1.CreateOptions{})
	wantInvalid(t, err, "spec.clusterIPs", "provided IP is already allocated")
	out := svcOf("out-ip", corev1.ServiceTypeClusterIP, tcp(80, 0))
	out.Spec.ClusterIP = "10.97.0.5"
	_, err = svcs.Create(ctx, out, metav1.CreateOptions{})
	wantInvalid(t, err, "spec.clusterIPs", "not in the valid range")
	taken := np.Spec.Ports[0].NodePort
	_, err = svcs.Create(ctx, svcOf("dup-port", corev1.ServiceTypeNodePort, tcp(81, 0), tcp(80, taken)), metav1.CreateOptions{})
	wantInvalid(t, err, "spec.ports[1].nodePort", "provided port is already allocated")
	_, err = svcs.Create(ctx, svcOf("out-port", corev1.ServiceTypeNodePort, tcp(80, 20000)), metav1.CreateOptions{})
	wantInvalid(t, err, "spec.ports[0].nodePort", "provided port is not in the valid range")
	if _, err := svcs.Get(ctx, "dup-port", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused service stored: %v", err)
	}

	// A deleted service's values are free at once.
	if err := svcs.Delete(ctx, "np", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	again := svcOf("again", corev1.ServiceTypeNodePort, tcp(80, taken))
	again.Spec.ClusterIP = np.Spec.ClusterIP
	if _, err := svcs.Create(ctx, again, metav1.CreateOptions{}); err != nil {
		t.Fatalf("values of a deleted service not released: %v", err)
	}

	// ClusterIP → NodePort on update: node ports in the update response.
	a.Spec.Type = corev1.ServiceTypeNodePort
	up, err := svcs.Update(ctx, a, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if up.Spec.Ports[0].NodePort == 0 || up.Spec.Ports[0].NodePort == taken || up.Spec.ClusterIP != a.Spec.ClusterIP {
		t.Errorf("update to NodePort: ports %+v clusterIP %s", up.Spec.Ports, up.Spec.ClusterIP)
	}
}

// TestServiceAllocationAcrossServers: two API servers over one store never hand out the same
// cluster IP. The service CIDR is a /28: 12 addresses can be allocated automatically (not the
// network and broadcast addresses, the kubernetes service's first host, the DNS tenth host).
func TestServiceAllocationAcrossServers(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	var clients []kubernetes.Interface
	for i := 0; i < 2; i++ {
		srv := apiservertest.StartConfig(t, apiserver.RunConfig{Store: st, DataDir: t.TempDir(), ServiceCIDR: "10.100.0.0/28"})
		cs, err := kubernetes.NewForConfig(srv.Config)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cs)
	}
	ctx := testCtx(t)
	var mu sync.Mutex
	got := map[string]string{}
	var refused []error
	var wg sync.WaitGroup
	for i := 0; i < 14; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("s%d", i)
			svc, err := clients[i%2].CoreV1().Services("default").Create(ctx, svcOf(name, corev1.ServiceTypeClusterIP, tcp(80, 0)), metav1.CreateOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refused = append(refused, err)
				return
			}
			if other, dup := got[svc.Spec.ClusterIP]; dup {
				t.Errorf("cluster IP %s handed out to %s and %s", svc.Spec.ClusterIP, other, name)
			}
			got[svc.Spec.ClusterIP] = name
		}()
	}
	wg.Wait()
	if len(got) != 12 || len(refused) != 2 {
		t.Errorf("%d services got addresses, %d refused (%v); want 12 and 2", len(got), len(refused), refused)
	}
	for ip := range got {
		if ip == "10.100.0.1" || ip == "10.100.0.10" {
			t.Errorf("reserved address %s allocated automatically", ip)
		}
	}
}

// TestServiceTypeChangeToExternalName: as the conformance test "should be able to change the
// type from ClusterIP to ExternalName" (and NodePort to ExternalName) does, a client reads the
// Service, sets type ExternalName and externalName and writes it back: Kubernetes'
// dropTypeDependentFields wipes the cluster IPs, IP families, node ports and traffic policies
// the client left as they were, and the freed cluster IP and node port can be taken again.
func TestServiceTypeChangeToExternalName(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	svcs := cs.CoreV1().Services("default")
	for _, typ := range []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort} {
		name := strings.ToLower(string(typ)) + "-to-ext"
		created, err := svcs.Create(ctx, svcOf(name, typ, tcp(80, 0)), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Spec.Type = corev1.ServiceTypeExternalName
		created.Spec.ExternalName = "foo.example.com"
		ext, err := svcs.Update(ctx, created, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("%s → ExternalName: %v", typ, err)
		}
		if ext.Spec.ClusterIP != "" || ext.Spec.ClusterIPs != nil || ext.Spec.IPFamilies != nil || ext.Spec.IPFamilyPolicy != nil ||
			ext.Spec.Ports[0].NodePort != 0 || ext.Spec.ExternalTrafficPolicy != "" || ext.Spec.InternalTrafficPolicy != nil {
			t.Errorf("%s → ExternalName left type-dependent fields: %+v", typ, ext.Spec)
		}
		// The values it held are free again.
		again := svcOf(name+"-again", corev1.ServiceTypeNodePort, tcp(80, created.Spec.Ports[0].NodePort))
		again.Spec.ClusterIP = created.Spec.ClusterIP
		if typ != corev1.ServiceTypeNodePort {
			again.Spec.Ports[0].NodePort = 0
		}
		if _, err := svcs.Create(ctx, again, metav1.CreateOptions{}); err != nil {
			t.Errorf("reusing %s's cluster IP %s and node port %d: %v", name, created.Spec.ClusterIP, created.Spec.Ports[0].NodePort, err)
		}
	}
	// A client that changes the cluster IP itself while switching still gets validation's answer.
	c, err := svcs.Create(ctx, svcOf("explicit", corev1.ServiceTypeClusterIP, tcp(80, 0)), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Spec.Type, c.Spec.ExternalName, c.Spec.ClusterIP, c.Spec.ClusterIPs = corev1.ServiceTypeExternalName, "foo.example.com", "10.96.200.200", []string{"10.96.200.200"}
	if _, err := svcs.Update(ctx, c, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("ExternalName with a new cluster IP: err = %v, want 422", err)
	}
}
