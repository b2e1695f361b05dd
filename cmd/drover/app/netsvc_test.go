package app

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/proxy"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

func nodeFlags(t *testing.T, args ...string) *nodeOptions {
	t.Helper()
	o := &nodeOptions{runtime: "docker"}
	f := pflag.NewFlagSet("node", pflag.ContinueOnError)
	f.StringVar(&o.clusterDNS, "cluster-dns", defaultClusterDNS, "")
	o.net.addFlags(f)
	if err := f.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestNetServicesFlags(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	tests := []struct {
		args    []string
		wantErr string
		dns     string
	}{
		{[]string{"--dns=false", "--proxy=false"}, "", ""},
		{[]string{"--dns=false", "--proxy=false", "--cluster-dns", "10.0.0.10"}, "", "10.0.0.10"},
		{[]string{"--cluster-dns", ""}, "--dns needs --cluster-dns", ""},
		{[]string{"--cluster-dns", "dns.local"}, `--cluster-dns "dns.local"`, "dns.local"},
		{[]string{"--nodeport-address", "any"}, `--nodeport-address "any"`, defaultClusterDNS},
	}
	for _, tt := range tests {
		o := nodeFlags(t, tt.args...)
		run, err := o.netServices(cfg, logtest.New(t))
		if tt.wantErr == "" && (err != nil || run != nil) {
			t.Errorf("%v: %v, run set %v; want nothing to run", tt.args, err, run != nil)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantErr)
		}
		if o.clusterDNS != tt.dns {
			t.Errorf("%v: pods get nameserver %q, want %q", tt.args, o.clusterDNS, tt.dns)
		}
	}
	if got := (netOptions{dns: true, proxy: true}).offFlags(); !strings.Contains(got, "--proxy=false") || !strings.Contains(got, "--dns=false") {
		t.Errorf("offFlags = %q, want both flags named", got)
	}
}

// TestNetServicesRun serves DNS on a 127.0.0.0/8 address, port 53, and proxies a service,
// from one fake clientset (root only, for port 53).
func TestNetServicesRun(t *testing.T) {
	if os.Geteuid() != 0 {
		uptest.RequireE2E(t, "port 53 needs root")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "hello")
			c.Close()
		}
	}()
	port := int32(ln.Addr().(*net.TCPAddr).Port)
	client := fake.NewSimpleClientset(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "jenkins"}, Spec: corev1.ServiceSpec{
			ClusterIP: "127.96.2.1", Ports: []corev1.ServicePort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}}},
		&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "jenkins"}, Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: port, Protocol: corev1.ProtocolTCP}}}}},
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- netOptions{dns: true, proxy: true}.run(ctx, client, proxy.NoAddrs{}, "127.96.2.53", logtest.New(t))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	var ip, body string
	for time.Now().Before(deadline) && (ip != "127.96.2.1" || body != "hello") {
		time.Sleep(20 * time.Millisecond)
		m := new(dns.Msg)
		m.SetQuestion("jenkins.ci.svc.cluster.local.", dns.TypeA)
		if resp, err := dns.Exchange(m, "127.96.2.53:53"); err == nil && len(resp.Answer) == 1 {
			ip = resp.Answer[0].(*dns.A).A.String()
		}
		if c, err := net.Dial("tcp", "127.96.2.1:8080"); err == nil {
			b, _ := io.ReadAll(c)
			body = string(b)
			c.Close()
		}
	}
	if ip != "127.96.2.1" || body != "hello" {
		t.Errorf("DNS answered %q and the proxy %q, want 127.96.2.1 and hello", ip, body)
	}
}
