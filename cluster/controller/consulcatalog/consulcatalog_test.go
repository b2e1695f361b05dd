package consulcatalog

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/store/consulstore/consultest"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

func jenkins(ip string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "jenkins", Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: []corev1.ServicePort{
			{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}, {Name: "slave", Port: 50000, Protocol: corev1.ProtocolTCP}}}}
}

// TestCatalogFollowsServices registers the jenkins service in a real Consul agent, resolves
// jenkins.service.consul and http.jenkins.service.consul through Consul's DNS, follows a
// change of ports and removes the entries with the service; a headless service is skipped and
// an entry left from an earlier run is removed at start.
func TestCatalogFollowsServices(t *testing.T) {
	agent := consultest.Start(t)
	consul := agent.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A leftover of an earlier drover run: gone at the first reconcile.
	if _, err := consul.Catalog().Register(catalogReg("drover/default/old/http", "old", "10.96.0.99", 80), nil); err != nil {
		t.Fatal(err)
	}
	headless := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Port: 5432}}}}
	client := fake.NewSimpleClientset(jenkins("10.96.0.20"), headless)
	factory := informers.NewSharedInformerFactory(client, 0)
	ci, err := New(Config{Consul: consul})(controller.Context{Logger: logtest.New(t), Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go func() { _ = ci.Run(ctx) }()

	uptest.Eventually(t, 20*time.Second, "jenkins.service.consul → 10.96.0.20", func() bool { return lookupA(agent.DNSAddr, "jenkins.service.consul.") == "10.96.0.20" })
	if got := srvPort(agent.DNSAddr, "http.jenkins.service.consul."); got != 8080 {
		t.Errorf("SRV http.jenkins.service.consul port = %d, want 8080", got)
	}
	if got := lookupA(agent.DNSAddr, "db.service.consul."); got != "" {
		t.Errorf("headless service registered: %s", got)
	}
	uptest.Eventually(t, 20*time.Second, "the leftover entry removed", func() bool {
		svcs, _, err := consul.Catalog().Service("old", "", nil)
		return err == nil && len(svcs) == 0
	})

	svc := jenkins("10.96.0.20")
	svc.Spec.Ports[0].Port = 8081
	if _, err := client.CoreV1().Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "the new http port in Consul", func() bool { return srvPort(agent.DNSAddr, "http.jenkins.service.consul.") == 8081 })

	if err := client.CoreV1().Services("default").Delete(ctx, "jenkins", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "jenkins gone from Consul", func() bool {
		svcs, _, err := consul.Catalog().Service("jenkins", "", nil)
		return err == nil && len(svcs) == 0
	})
}

func lookupA(server, name string) string {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	r, err := dns.Exchange(m, server)
	if err != nil || r == nil {
		return ""
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

func srvPort(server, name string) int {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeSRV)
	r, err := dns.Exchange(m, server)
	if err != nil || r == nil {
		return 0
	}
	for _, rr := range r.Answer {
		if s, ok := rr.(*dns.SRV); ok {
			return int(s.Port)
		}
	}
	return 0
}
