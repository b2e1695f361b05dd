package serviceip

import (
	"net/netip"
)

// state is who holds which cluster IP and node port. Only the controller's single worker
// touches it, so it needs no lock.
type state struct {
	ips       *IPRange
	ports     *PortRange
	ipOwner   map[netip.Addr]string // cluster IP → service key
	portOwner map[int]string        // node port → service key
	held      map[string]*holding   // service key → what it holds
	// conflicted are services that named an address or port someone else held: they are
	// looked at again whenever something is released.
	conflicted map[string]bool
}

type holding struct {
	ips   map[netip.Addr]bool
	ports map[int]bool
}

func newState(ips *IPRange, ports *PortRange) *state {
	return &state{ips: ips, ports: ports, ipOwner: map[netip.Addr]string{}, portOwner: map[int]string{},
		held: map[string]*holding{}, conflicted: map[string]bool{}}
}

func (s *state) holding(key string) *holding {
	h := s.held[key]
	if h == nil {
		h = &holding{ips: map[netip.Addr]bool{}, ports: map[int]bool{}}
		s.held[key] = h
	}
	return h
}

// claimIP gives ip to key: nil when key holds it already or it was free, else ErrAllocated
// or ErrNotInRange.
func (s *state) claimIP(key string, ip netip.Addr) error {
	if s.ipOwner[ip] == key {
		return nil
	}
	if err := s.ips.Allocate(ip); err != nil {
		return err
	}
	s.ipOwner[ip] = key
	s.holding(key).ips[ip] = true
	return nil
}

// nextIP gives key a free address.
func (s *state) nextIP(key string) (netip.Addr, error) {
	ip, err := s.ips.AllocateNext()
	if err != nil {
		return ip, err
	}
	s.ipOwner[ip] = key
	s.holding(key).ips[ip] = true
	return ip, nil
}

// claimPort gives port to key, as claimIP does for addresses.
func (s *state) claimPort(key string, port int) error {
	if s.portOwner[port] == key {
		return nil
	}
	if err := s.ports.Allocate(port); err != nil {
		return err
	}
	s.portOwner[port] = key
	s.holding(key).ports[port] = true
	return nil
}

// nextPort gives key a free node port.
func (s *state) nextPort(key string) (int, error) {
	port, err := s.ports.AllocateNext()
	if err != nil {
		return 0, err
	}
	s.portOwner[port] = key
	s.holding(key).ports[port] = true
	return port, nil
}

// releaseExcept frees what key holds outside keepIPs and keepPorts; it reports whether
// anything was freed.
func (s *state) releaseExcept(key string, keepIPs map[netip.Addr]bool, keepPorts map[int]bool) bool {
	h := s.held[key]
	if h == nil {
		return false
	}
	freed := false
	for ip := range h.ips {
		if !keepIPs[ip] {
			s.ips.Release(ip)
			delete(s.ipOwner, ip)
			delete(h.ips, ip)
			freed = true
		}
	}
	for port := range h.ports {
		if !keepPorts[port] {
			s.ports.Release(port)
			delete(s.portOwner, port)
			delete(h.ports, port)
			freed = true
		}
	}
	if len(h.ips) == 0 && len(h.ports) == 0 {
		delete(s.held, key)
	}
	return freed
}
