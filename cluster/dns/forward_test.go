package dns

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

func TestForwardsOtherNames(t *testing.T) {
	up := startUpstream(t)
	s, _ := startServer(t, Config{Upstreams: []string{up.addr}})
	for _, proto := range []string{"udp", "tcp"} {
		resp := query(t, s.Addr(), proto, "example.com.", dns.TypeA)
		if resp.Rcode != dns.RcodeSuccess || resp.Authoritative {
			t.Errorf("%s: rcode %s authoritative %v, want a non-authoritative NOERROR", proto, dns.RcodeToString[resp.Rcode], resp.Authoritative)
		}
		if diff := cmp.Diff([]string{"example.com.\t300\tIN\tA\t192.0.2.1"}, rrs(resp.Answer)); diff != "" {
			t.Errorf("%s answer (-want +got):\n%s", proto, diff)
		}
	}
	// Cluster names never reach the upstream.
	query(t, s.Addr(), "udp", "missing.default.svc.cluster.local.", dns.TypeA)
	if diff := cmp.Diff([]string{"example.com.", "example.com."}, up.seen()); diff != "" {
		t.Errorf("upstream saw (-want +got):\n%s", diff)
	}
}

// silent is a UDP socket on loopback that never answers.
func silent(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

func TestForwardTimeoutThenNextUpstream(t *testing.T) {
	up := startUpstream(t)
	s, _ := startServer(t, Config{Upstreams: []string{silent(t), up.addr}, ForwardTimeout: 200 * time.Millisecond})
	start := time.Now()
	resp := query(t, s.Addr(), "udp", "jenkins.io.", dns.TypeA)
	if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("answer after %v, want the silent upstream's timeout (200ms) then the next one", took)
	}
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Errorf("rcode %s with %d answers, want the second upstream's answer", dns.RcodeToString[resp.Rcode], len(resp.Answer))
	}
}

func TestForwardServfailWhenNoUpstreamAnswers(t *testing.T) {
	s, _ := startServer(t, Config{Upstreams: []string{silent(t)}, ForwardTimeout: 100 * time.Millisecond})
	resp := query(t, s.Addr(), "udp", "jenkins.io.", dns.TypeA)
	if resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
}

func TestUpstreamsFromResolvConf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	conf := "search example.org\nnameserver 192.0.2.53\nnameserver 192.0.2.54\noptions ndots:1\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := New(Config{ResolvConf: path}).upstreams()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"192.0.2.53:53", "192.0.2.54:53"}, got); diff != "" {
		t.Errorf("upstreams (-want +got):\n%s", diff)
	}
	if _, err := New(Config{ResolvConf: filepath.Join(t.TempDir(), "none")}).upstreams(); err == nil {
		t.Error("a missing resolv.conf gave no error")
	}
	if got := withoutAddr([]string{"10.96.0.10:53", "192.0.2.53:53"}, "10.96.0.10:53"); !cmp.Equal(got, []string{"192.0.2.53:53"}) {
		t.Errorf("withoutAddr kept the server itself: %v", got)
	}
}
