package proxy

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// udpBackend answers every datagram on 127.0.0.1 with its name; it returns its port.
func udpBackend(t *testing.T, name string) int32 {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(name), from)
		}
	}()
	return int32(pc.LocalAddr().(*net.UDPAddr).Port)
}

// askUDP sends a datagram to addr from a new socket and returns the answer or "error: ...".
func askUDP(addr string) string {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "error: " + err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("hostname")); err != nil {
		return "error: " + err.Error()
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(buf[:n])
}

// TestUDPService: a service port of protocol UDP is served on its cluster IP and node port
// (it was not served at all), round robin per client socket, beside a TCP port of the same
// number (the conformance test "should serve endpoints on same port and different
// protocols").
func TestUDPService(t *testing.T) {
	ua, ub := udpBackend(t, "udp-a"), udpBackend(t, "udp-b")
	ta := backend(t, "tcp-a")
	np := freePort(t)
	svc := service("dns", "127.96.0.53",
		corev1.ServicePort{Name: "udp", Port: 8053, Protocol: corev1.ProtocolUDP, NodePort: np},
		corev1.ServicePort{Name: "tcp", Port: 8053, Protocol: corev1.ProtocolTCP, NodePort: np})
	svc.Spec.Type = corev1.ServiceTypeNodePort
	ep := &corev1.Endpoints{ObjectMeta: svc.ObjectMeta}
	ep.Subsets = []corev1.EndpointSubset{
		{Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}}, Ports: []corev1.EndpointPort{{Name: "udp", Port: ua, Protocol: corev1.ProtocolUDP}}},
		{Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}}, Ports: []corev1.EndpointPort{{Name: "udp", Port: ub, Protocol: corev1.ProtocolUDP}}},
		{Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}}, Ports: []corev1.EndpointPort{{Name: "tcp", Port: ta, Protocol: corev1.ProtocolTCP}}},
	}
	startProxy(t, Config{NodePortAddress: "127.0.0.1"}, svc, ep)
	const addr = "127.96.0.53:8053"
	eventually(t, func() string {
		if got := askUDP(addr); got != "udp-a" && got != "udp-b" {
			return fmt.Sprintf("UDP %s: %q, want a UDP backend's name", addr, got)
		}
		return ""
	})
	count := map[string]int{}
	for range 6 {
		count[askUDP(addr)]++
	}
	if count["udp-a"] != 3 || count["udp-b"] != 3 {
		t.Errorf("six UDP clients reached %v, want 3 each (round robin)", count)
	}
	waitServed(t, addr, "tcp-a")
	nodeAddr := "127.0.0.1:" + strconv.Itoa(int(np))
	if got := askUDP(nodeAddr); got != "udp-a" && got != "udp-b" {
		t.Errorf("UDP node port %s: %q", nodeAddr, got)
	}
	waitServed(t, nodeAddr, "tcp-a")
}
