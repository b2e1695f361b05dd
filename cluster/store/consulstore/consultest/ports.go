package consultest

import (
	"fmt"
	"net"
)

// freePorts returns n distinct loopback ports that were free for both TCP and UDP a moment ago
// (Serf uses both on one port). Another process may still take one before the agent binds it;
// Start retries when the agent exits early.
func freePorts(n int) ([]int, error) {
	var (
		ports []int
		tcps  []net.Listener
		udps  []net.PacketConn
	)
	defer func() {
		for _, l := range tcps {
			l.Close()
		}
		for _, c := range udps {
			c.Close()
		}
	}()
	for attempts := 0; len(ports) < n; attempts++ {
		if attempts > 100*n {
			return nil, fmt.Errorf("consultest: found only %d of %d free loopback ports", len(ports), n)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("consultest: listen on loopback: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			l.Close()
			continue
		}
		tcps, udps = append(tcps, l), append(udps, u)
		ports = append(ports, port)
	}
	return ports, nil
}
