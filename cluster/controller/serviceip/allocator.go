package serviceip

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
)

// Allocation errors.
var (
	ErrFull       = errors.New("range is full")
	ErrAllocated  = errors.New("already allocated")
	ErrNotInRange = errors.New("not in range")
)

// bitmap marks which of size slots are used and hands out free ones round-robin, starting
// after the last one it handed out (so a released value is not reused at once).
type bitmap struct {
	words []uint64
	size  int
	used  int
	next  int
}

func newBitmap(size int) *bitmap {
	return &bitmap{words: make([]uint64, (size+63)/64), size: size}
}

func (b *bitmap) has(i int) bool { return b.words[i/64]&(1<<(i%64)) != 0 }

// set marks slot i; it reports false when it was already used.
func (b *bitmap) set(i int) bool {
	if b.has(i) {
		return false
	}
	b.words[i/64] |= 1 << (i % 64)
	b.used++
	return true
}

func (b *bitmap) clear(i int) {
	if b.has(i) {
		b.words[i/64] &^= 1 << (i % 64)
		b.used--
	}
}

// setNext marks and returns the first free slot at or after the cursor, wrapping around.
func (b *bitmap) setNext() (int, bool) {
	i := b.firstFree(b.next, b.size)
	if i < 0 {
		i = b.firstFree(0, b.next)
	}
	if i < 0 {
		return 0, false
	}
	b.set(i)
	b.next = (i + 1) % b.size
	return i, true
}

// firstFree is the first free slot in [from, to), or -1.
func (b *bitmap) firstFree(from, to int) int {
	for i := from; i < to; {
		s := i % 64
		free := ^b.words[i/64] >> s
		if free == 0 {
			i += 64 - s
			continue
		}
		if j := i + bits.TrailingZeros64(free); j < to {
			return j
		}
		return -1
	}
	return -1
}

// IPRange allocates IPv4 addresses of a CIDR. The network and broadcast addresses are never
// handed out, nor the first host address, which belongs to the `kubernetes` service
// (Reserved); that one can still be taken by name with Allocate.
type IPRange struct {
	prefix netip.Prefix
	base   uint32 // the network address
	bits   *bitmap
}

// NewIPRange builds an allocator over an IPv4 CIDR with at least 4 addresses (a /30).
func NewIPRange(cidr string) (*IPRange, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("service CIDR %q: %w", cidr, err)
	}
	p = p.Masked()
	if !p.Addr().Is4() {
		return nil, fmt.Errorf("service CIDR %q: only IPv4 is supported", cidr)
	}
	if p.Bits() > 30 {
		return nil, fmt.Errorf("service CIDR %q: too small (at most /30)", cidr)
	}
	r := &IPRange{prefix: p, base: ipToUint(p.Addr()), bits: newBitmap(1 << (32 - p.Bits()))}
	r.bits.set(0)               // network
	r.bits.set(r.bits.size - 1) // broadcast
	r.bits.next = 2             // skip the kubernetes service's address when allocating
	return r, nil
}

// CIDR is the range's prefix.
func (r *IPRange) CIDR() netip.Prefix { return r.prefix }

// Reserved is the first host address, the `kubernetes` service's cluster IP.
func (r *IPRange) Reserved() netip.Addr { return uintToIP(r.base + 1) }

// Contains reports whether ip is in the range.
func (r *IPRange) Contains(ip netip.Addr) bool { return r.prefix.Contains(ip) }

// Allocate takes ip: ErrNotInRange outside the CIDR or for the network and broadcast
// addresses, ErrAllocated when it is taken.
func (r *IPRange) Allocate(ip netip.Addr) error {
	i, ok := r.index(ip)
	if !ok {
		return fmt.Errorf("%s: %w %s", ip, ErrNotInRange, r.prefix)
	}
	if !r.bits.set(i) {
		return fmt.Errorf("%s: %w", ip, ErrAllocated)
	}
	return nil
}

// DNSIndex is the host index kept for cluster DNS: drover's default --cluster-dns is the
// tenth address of the default service CIDR (10.96.0.10), as kube-dns is in Kubernetes.
const DNSIndex = 10

// AllocateNext takes a free address other than Reserved and the cluster DNS address (the
// tenth host), or fails with ErrFull. Both can still be taken by name with Allocate.
func (r *IPRange) AllocateNext() (netip.Addr, error) {
	var held []int
	for _, idx := range []int{1, DNSIndex} {
		if idx < r.bits.size && !r.bits.has(idx) {
			r.bits.set(idx) // keep it out of automatic allocation
			held = append(held, idx)
		}
	}
	i, ok := r.bits.setNext()
	for _, idx := range held {
		r.bits.clear(idx)
	}
	if !ok {
		return netip.Addr{}, fmt.Errorf("service CIDR %s: %w", r.prefix, ErrFull)
	}
	return uintToIP(r.base + uint32(i)), nil
}

// Release frees ip (nothing happens if it was free or outside the range).
func (r *IPRange) Release(ip netip.Addr) {
	if i, ok := r.index(ip); ok {
		r.bits.clear(i)
	}
}

// Has reports whether ip is allocated.
func (r *IPRange) Has(ip netip.Addr) bool {
	i, ok := r.index(ip)
	return ok && r.bits.has(i)
}

// Free is how many addresses AllocateNext can still hand out.
func (r *IPRange) Free() int {
	free := r.bits.size - r.bits.used
	for _, idx := range []int{1, DNSIndex} {
		if idx < r.bits.size && !r.bits.has(idx) {
			free--
		}
	}
	return free
}

// index maps a host address to its slot; network and broadcast are not hosts.
func (r *IPRange) index(ip netip.Addr) (int, bool) {
	if !ip.Is4() || !r.prefix.Contains(ip) {
		return 0, false
	}
	i := int(ipToUint(ip) - r.base)
	return i, i > 0 && i < r.bits.size-1
}

func ipToUint(ip netip.Addr) uint32 {
	b := ip.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintToIP(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// PortRange allocates ports in [Min, Max].
type PortRange struct {
	Min, Max int
	bits     *bitmap
}

// NewPortRange builds an allocator over [lo, hi].
func NewPortRange(lo, hi int) (*PortRange, error) {
	if lo < 1 || hi > 65535 || lo > hi {
		return nil, fmt.Errorf("node port range %d-%d: invalid", lo, hi)
	}
	return &PortRange{Min: lo, Max: hi, bits: newBitmap(hi - lo + 1)}, nil
}

// Allocate takes port: ErrNotInRange or ErrAllocated when it cannot.
func (r *PortRange) Allocate(port int) error {
	if port < r.Min || port > r.Max {
		return fmt.Errorf("port %d: %w %d-%d", port, ErrNotInRange, r.Min, r.Max)
	}
	if !r.bits.set(port - r.Min) {
		return fmt.Errorf("port %d: %w", port, ErrAllocated)
	}
	return nil
}

// AllocateNext takes a free port or fails with ErrFull.
func (r *PortRange) AllocateNext() (int, error) {
	i, ok := r.bits.setNext()
	if !ok {
		return 0, fmt.Errorf("node ports %d-%d: %w", r.Min, r.Max, ErrFull)
	}
	return r.Min + i, nil
}

// Release frees port.
func (r *PortRange) Release(port int) {
	if port >= r.Min && port <= r.Max {
		r.bits.clear(port - r.Min)
	}
}

// Has reports whether port is allocated.
func (r *PortRange) Has(port int) bool {
	return port >= r.Min && port <= r.Max && r.bits.has(port-r.Min)
}

// Free is how many ports are left.
func (r *PortRange) Free() int { return r.bits.size - r.bits.used }
