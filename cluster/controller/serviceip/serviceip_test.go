package serviceip

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/internal/logtest"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fixture struct {
	t        *testing.T
	client   *fake.Clientset
	c        *Controller
	recorder *record.FakeRecorder
	indexer  interface{ Add(interface{}) error }
}

// newFixture builds the controller over a /29 (5 addresses to hand out: .2–.6) and node ports
// 30000–30002, with svcs in the fake API and in the informer cache, and rebuilds from them.
func newFixture(t *testing.T, svcs ...*corev1.Service) *fixture {
	t.Helper()
	objs := make([]runtime.Object, len(svcs))
	for i, s := range svcs {
		objs[i] = s
	}
	f := &fixture{t: t, client: fake.NewSimpleClientset(objs...), recorder: record.NewFakeRecorder(100)}
	factory := informers.NewSharedInformerFactory(f.client, 0)
	c, err := New(controller.Context{Logger: logtest.New(t), Client: f.client, Informers: factory,
		Recorder: func(string) record.EventRecorder { return f.recorder },
		Options:  controller.Options{ServiceCIDR: "10.96.0.0/29", NodePortMin: 30000, NodePortMax: 30002}})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	indexer := factory.Core().V1().Services().Informer().GetIndexer()
	f.indexer = indexer
	for _, s := range svcs {
		if err := indexer.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.c.rebuild(); err != nil {
		t.Fatal(err)
	}
	return f
}

// sync runs one sync and returns the service it wrote, or nil.
func (f *fixture) sync(key string) *corev1.Service {
	f.t.Helper()
	f.client.ClearActions()
	if err := f.c.sync(f.t.Context(), key); err != nil {
		f.t.Fatalf("sync %s: %v", key, err)
	}
	var out *corev1.Service
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" && a.GetResource().Resource == "services" {
			out = a.(k8stesting.UpdateAction).GetObject().(*corev1.Service)
		}
	}
	return out
}

func (f *fixture) events() string {
	var b strings.Builder
	for {
		select {
		case e := <-f.recorder.Events:
			b.WriteString(e + "\n")
		default:
			return b.String()
		}
	}
}

func svc(name string, typ corev1.ServiceType, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	if len(ports) == 0 {
		ports = []corev1.ServicePort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}
	}
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", ResourceVersion: "5", CreationTimestamp: metav1.NewTime(t0)},
		Spec:       corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP, Ports: ports},
	}
	if clusterIP != "" {
		s.Spec.ClusterIPs = []string{clusterIP}
	}
	return s
}

func port(name string, p int32, proto corev1.Protocol, nodePort int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: p, Protocol: proto, NodePort: nodePort, TargetPort: intstr.FromInt32(p)}
}

func TestSyncAllocatesClusterIPsAndNodePorts(t *testing.T) {
	f := newFixture(t,
		svc("a", corev1.ServiceTypeClusterIP, ""),
		svc("b", corev1.ServiceTypeNodePort, "", port("dns", 53, corev1.ProtocolTCP, 0),
			port("dns-udp", 53, corev1.ProtocolUDP, 0), port("web", 80, corev1.ProtocolTCP, 0)),
		svc("headless", corev1.ServiceTypeClusterIP, corev1.ClusterIPNone),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "default"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}})
	a := f.sync("default/a")
	if a == nil || a.Spec.ClusterIP != "10.96.0.2" || !cmp.Equal(a.Spec.ClusterIPs, []string{"10.96.0.2"}) || a.ResourceVersion != "5" {
		t.Fatalf("a = %+v, want 10.96.0.2 written with resourceVersion 5", a)
	}
	if a.Spec.Ports[0].NodePort != 0 {
		t.Errorf("ClusterIP service got a node port")
	}
	b := f.sync("default/b")
	if b == nil || b.Spec.ClusterIP != "10.96.0.3" {
		t.Fatalf("b = %+v", b)
	}
	var nodePorts []int32
	for _, p := range b.Spec.Ports {
		nodePorts = append(nodePorts, p.NodePort)
	}
	if diff := cmp.Diff([]int32{30000, 30000, 30001}, nodePorts); diff != "" {
		t.Errorf("node ports (TCP and UDP 53 share one) (-want +got):\n%s", diff)
	}
	for _, key := range []string{"default/headless", "default/ext"} {
		if got := f.sync(key); got != nil {
			t.Errorf("%s was written: %+v", key, got.Spec)
		}
	}
	if f.c.st.ips.Free() != 3 || f.c.st.ports.Free() != 1 {
		t.Errorf("free after allocation: %d IPs, %d ports", f.c.st.ips.Free(), f.c.st.ports.Free())
	}
}

func TestRebuildKeepsExistingAllocations(t *testing.T) {
	old := svc("old", corev1.ServiceTypeNodePort, "10.96.0.2", port("http", 80, corev1.ProtocolTCP, 30000))
	old2 := svc("old2", corev1.ServiceTypeClusterIP, "10.96.0.3")
	f := newFixture(t, old, old2, svc("new", corev1.ServiceTypeNodePort, ""))
	if got := f.sync("default/old"); got != nil {
		t.Errorf("a service with its allocations was rewritten: %+v", got.Spec)
	}
	got := f.sync("default/new")
	if got == nil || got.Spec.ClusterIP != "10.96.0.4" || got.Spec.Ports[0].NodePort != 30001 {
		t.Errorf("new service after a rebuild = %+v, want 10.96.0.4 and node port 30001", got)
	}
	if ev := f.events(); ev != "" {
		t.Errorf("events: %s", ev)
	}
}

func TestConflictsAreReportedAndResolvedWhenFreed(t *testing.T) {
	old := svc("old", corev1.ServiceTypeNodePort, "10.96.0.2", port("http", 80, corev1.ProtocolTCP, 30000))
	dup := svc("dup", corev1.ServiceTypeNodePort, "10.96.0.2", port("http", 80, corev1.ProtocolTCP, 30000))
	dup.CreationTimestamp = metav1.NewTime(t0.Add(time.Minute))
	outside := svc("outside", corev1.ServiceTypeNodePort, "10.1.2.3", port("http", 80, corev1.ProtocolTCP, 31000))
	f := newFixture(t, dup, old, outside) // the older one keeps what both name, whatever the order
	for _, key := range []string{"default/dup", "default/old", "default/outside"} {
		if got := f.sync(key); got != nil {
			t.Errorf("%s was rewritten: %+v", key, got.Spec)
		}
	}
	ev := f.events()
	for _, want := range []string{
		"Warning ClusterIPAlreadyAllocated Cluster IP 10.96.0.2 is already allocated to service default/old",
		"Warning PortAlreadyAllocated Port 30000 is already allocated to service default/old",
		"Warning ClusterIPOutOfRange Cluster IP 10.1.2.3 is not within the service CIDR 10.96.0.0/29",
		"Warning PortOutOfRange Port 31000 is not within the node port range 30000-30002",
	} {
		if !strings.Contains(ev, want) {
			t.Errorf("events lack %q:\n%s", want, ev)
		}
	}
	// The older service goes: the duplicate is looked at again and now holds both.
	if err := f.client.Tracker().Delete(schema.GroupVersionResource{Version: "v1", Resource: "services"}, "default", "old"); err != nil {
		t.Fatal(err)
	}
	factoryDelete(t, f, old)
	f.sync("default/old")
	if f.c.queue.Len() != 1 {
		t.Fatalf("queue length after the release = %d, want 1 (dup)", f.c.queue.Len())
	}
	f.sync("default/dup")
	if owner := f.c.st.ipOwner[netip.MustParseAddr("10.96.0.2")]; owner != "default/dup" {
		t.Errorf("10.96.0.2 owner = %q", owner)
	}
	if owner := f.c.st.portOwner[30000]; owner != "default/dup" {
		t.Errorf("30000 owner = %q", owner)
	}
}

func factoryDelete(t *testing.T, f *fixture, s *corev1.Service) {
	t.Helper()
	if err := f.indexer.(interface{ Delete(interface{}) error }).Delete(s); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateConflictReleasesAndRetries(t *testing.T) {
	f := newFixture(t, svc("a", corev1.ServiceTypeNodePort, ""))
	f.client.PrependReactor("update", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "services"}, "a", nil)
	})
	if err := f.c.sync(t.Context(), "default/a"); !apierrors.IsConflict(err) {
		t.Fatalf("sync on a conflict: %v", err)
	}
	if f.c.st.ips.Free() != 5 || f.c.st.ports.Free() != 3 {
		t.Errorf("after a failed update: %d IPs, %d ports free; want all", f.c.st.ips.Free(), f.c.st.ports.Free())
	}
}

func TestExhaustion(t *testing.T) {
	var svcs []*corev1.Service
	for _, n := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
		svcs = append(svcs, svc(n, corev1.ServiceTypeClusterIP, ""))
	}
	f := newFixture(t, svcs...)
	seen := map[string]bool{}
	for _, s := range svcs[:5] {
		got := f.sync("default/" + s.Name)
		if got == nil || seen[got.Spec.ClusterIP] || got.Spec.ClusterIP == "10.96.0.1" {
			t.Fatalf("%s: %+v", s.Name, got)
		}
		seen[got.Spec.ClusterIP] = true
	}
	if err := f.c.sync(t.Context(), "default/s6"); err == nil {
		t.Error("sync in a full range returned no error")
	}
	if ev := f.events(); !strings.Contains(ev, "Warning AllocationFailed Failed to allocate a cluster IP") {
		t.Errorf("events: %s", ev)
	}
}

func TestKubernetesServiceCreated(t *testing.T) {
	f := newFixture(t)
	if err := f.c.ensureKubernetes(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := f.client.CoreV1().Services("default").Get(t.Context(), "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(6443)}}
	if got.Spec.ClusterIP != "10.96.0.1" || !cmp.Equal(want, got.Spec.Ports) {
		t.Errorf("kubernetes service = %+v", got.Spec)
	}
	// The fake client has no address: no Endpoints are written.
	if _, err := f.client.CoreV1().Endpoints("default").Get(t.Context(), "kubernetes", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("endpoints: %v", err)
	}
	f.c.apiAddr = netip.MustParseAddrPort("192.168.1.10:6443")
	if err := f.c.ensureKubernetesEndpoints(t.Context()); err != nil {
		t.Fatal(err)
	}
	ep, err := f.client.CoreV1().Endpoints("default").Get(t.Context(), "kubernetes", metav1.GetOptions{})
	if err != nil || ep.Subsets[0].Addresses[0].IP != "192.168.1.10" || ep.Subsets[0].Ports[0].Port != 6443 || ep.Labels[discoveryv1.LabelSkipMirror] != "true" {
		t.Errorf("endpoints = %+v, %v", ep, err)
	}
	// Its EndpointSlice, written the same way (kubectl 1.32 reads slices).
	if err := f.c.ensureKubernetesEndpointSlice(t.Context()); err != nil {
		t.Fatal(err)
	}
	es, err := f.client.DiscoveryV1().EndpointSlices("default").Get(t.Context(), "kubernetes", metav1.GetOptions{})
	if err != nil || es.AddressType != discoveryv1.AddressTypeIPv4 || es.Labels[discoveryv1.LabelServiceName] != "kubernetes" ||
		len(es.Endpoints) != 1 || es.Endpoints[0].Addresses[0] != "192.168.1.10" || !*es.Endpoints[0].Conditions.Ready ||
		len(es.Ports) != 1 || *es.Ports[0].Port != 6443 || *es.Ports[0].Name != "https" {
		t.Errorf("endpointslice = %+v, %v", es, err)
	}
	f.c.apiAddr = netip.MustParseAddrPort("192.168.1.11:6443")
	if err := f.c.ensureKubernetesEndpointSlice(t.Context()); err != nil {
		t.Fatal(err)
	}
	es, err = f.client.DiscoveryV1().EndpointSlices("default").Get(t.Context(), "kubernetes", metav1.GetOptions{})
	if err != nil || es.Endpoints[0].Addresses[0] != "192.168.1.11" {
		t.Errorf("endpointslice after the address moved = %+v, %v", es, err)
	}
}

func TestAPIServerAddress(t *testing.T) {
	for host, want := range map[string]string{
		"https://192.168.1.10:6443": "192.168.1.10:6443",
		"https://10.0.0.5":          "10.0.0.5:443",
		"https://127.0.0.1:6443":    "",
		"https://drover.local:6443": "",
	} {
		cs, err := kubernetes.NewForConfig(&rest.Config{Host: host})
		if err != nil {
			t.Fatal(err)
		}
		got := apiServerAddress(cs)
		if (want == "" && got.IsValid()) || (want != "" && got.String() != want) {
			t.Errorf("apiServerAddress(%s) = %v, want %q", host, got, want)
		}
	}
	if apiServerAddress(fake.NewSimpleClientset()).IsValid() {
		t.Error("a fake client has an address")
	}
}
