package runtimetest

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

func (s *suite) testNetwork(t *testing.T) {
	_, subnet, err := net.ParseCIDR(s.opts.Subnet)
	if err != nil {
		t.Fatalf("Options.Subnet: %v", err)
	}
	wantGW := firstHost(subnet)
	for i := 0; i < 2; i++ {
		gw, err := s.rt.EnsureNetwork(s.ctx(t), s.opts.Network, s.opts.Subnet)
		if err != nil || gw != wantGW {
			t.Fatalf("EnsureNetwork #%d = %q, %v; want %q", i+1, gw, err, wantGW)
		}
	}
	if _, err := s.rt.EnsureNetwork(s.ctx(t), s.opts.Network, "10.252.7.0/24"); err == nil {
		t.Errorf("EnsureNetwork with another subnet succeeded")
	}
	fixed := s.pause(t, nthHost(subnet, 200+int(seq.Add(1)%50)))
	c := s.waitState(t, fixed.id, container.StateRunning)
	if c.IP != fixed.ip {
		t.Errorf("IP of infra container = %q, want %q", c.IP, fixed.ip)
	}
	any := s.pause(t, "")
	c = s.waitState(t, any.id, container.StateRunning)
	if ip := net.ParseIP(c.IP); ip == nil || !subnet.Contains(ip) || c.IP == fixed.ip {
		t.Errorf("IP of infra container = %q, want another address in %s", c.IP, subnet)
	}
	spec := s.exitSpec(t, []string{"SLEEP=inf"})
	spec.NetworkMode = "container:" + any.id
	app := s.run(t, spec)
	s.waitState(t, app, container.StateRunning)
}

type infra struct{ id, ip string }

// pause starts an infra container on the suite's network, with a fixed ip unless empty.
func (s *suite) pause(t *testing.T, ip string) infra {
	t.Helper()
	if _, err := s.rt.EnsureNetwork(s.ctx(t), s.opts.Network, s.opts.Subnet); err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	spec := container.Spec{Name: s.name(t), Image: s.opts.PauseImage, NetworkMode: s.opts.Network, IP: ip}
	return infra{id: s.run(t, spec), ip: ip}
}

func firstHost(n *net.IPNet) string { return nthHost(n, 1) }

func nthHost(n *net.IPNet, i int) string {
	ip := n.IP.To4()
	out := net.IPv4(ip[0], ip[1], ip[2], ip[3]+byte(i))
	return out.String()
}

func (s *suite) testSharedLocalhost(t *testing.T) {
	if s.opts.NoTraffic {
		t.Skip("runtime moves no traffic")
	}
	pod := s.pause(t, "")
	ip := s.waitState(t, pod.id, container.StateRunning).IP
	for _, port := range []string{"8080", "8081"} {
		spec := container.Spec{Name: s.name(t), Image: s.opts.ServerImage, Env: []string{"PORT=" + port},
			NetworkMode: "container:" + pod.id}
		s.run(t, spec)
	}
	url := "http://" + ip + ":8080/get?url=http://localhost:8081/healthz"
	body := s.httpGet(t, url)
	if body != "200\nok\n" {
		t.Errorf("GET %s = %q, want 200 ok", url, body)
	}
}

// httpGet fetches url, retrying until the server answers 200 or the timeout passes.
func (s *suite) httpGet(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(s.opts.Timeout)
	c := http.Client{Timeout: 5 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(s.ctx(t), http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = &statusError{resp.Status, string(b)}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type statusError struct{ status, body string }

func (e *statusError) Error() string { return e.status + ": " + strings.TrimSpace(e.body) }

func (s *suite) testOOM(t *testing.T) {
	if s.opts.NoOOM {
		t.Skip("runtime enforces no memory limits")
	}
	spec := s.exitSpec(t, []string{"ALLOC_MB=200", "SLEEP=inf"})
	spec.MemoryLimit = 32 << 20
	id := s.run(t, spec)
	c := s.waitState(t, id, container.StateExited)
	if !c.OOMKilled || c.ExitCode != 137 {
		t.Errorf("OOMKilled %v exit code %d, want true 137", c.OOMKilled, c.ExitCode)
	}
}
