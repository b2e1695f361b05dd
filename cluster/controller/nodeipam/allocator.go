package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
)

// ErrFull is returned by Next when every subnet of the cluster CIDR is in use.
var ErrFull = errors.New("nodeipam: cluster CIDR has no free node subnet")

// Allocator hands out the mask-size subnets of a cluster CIDR, lowest free first. It is not
// safe for concurrent use.
type Allocator struct {
	cluster netip.Prefix
	mask    int
	n       int // number of subnets
	used    *big.Int
	count   int
	next    int // where the next search starts (round robin, as Kubernetes does)
}

// NewAllocator checks cidr (IPv4 or IPv6) and the node mask size (longer than the cluster's
// prefix, at most 16 bits of subnets' worth more) and returns an empty allocator.
func NewAllocator(cidr string, maskSize int) (*Allocator, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("--cluster-cidr %q: %w", cidr, err)
	}
	p = p.Masked()
	if maskSize <= p.Bits() || maskSize > p.Addr().BitLen() {
		return nil, fmt.Errorf("--node-cidr-mask-size %d: want more than the cluster CIDR's /%d and at most /%d", maskSize, p.Bits(), p.Addr().BitLen())
	}
	if maskSize-p.Bits() > 16 {
		return nil, fmt.Errorf("--node-cidr-mask-size %d: at most 65536 node subnets (/%d) from %s", maskSize, p.Bits()+16, p)
	}
	return &Allocator{cluster: p, mask: maskSize, n: 1 << (maskSize - p.Bits()), used: new(big.Int)}, nil
}

// ClusterCIDR is the range subnets come from.
func (a *Allocator) ClusterCIDR() netip.Prefix { return a.cluster }

// MaskSize is the subnets' prefix length.
func (a *Allocator) MaskSize() int { return a.mask }

// Used and Free count subnets.
func (a *Allocator) Used() int { return a.count }
func (a *Allocator) Free() int { return a.n - a.count }

// Next marks the next free subnet used and returns it.
func (a *Allocator) Next() (netip.Prefix, error) {
	for i := 0; i < a.n; i++ {
		idx := (a.next + i) % a.n
		if a.used.Bit(idx) == 0 {
			a.used.SetBit(a.used, idx, 1)
			a.count++
			a.next = (idx + 1) % a.n
			return a.subnet(idx), nil
		}
	}
	return netip.Prefix{}, ErrFull
}

// Occupy marks p used: it must be one of the cluster CIDR's subnets and free.
func (a *Allocator) Occupy(p netip.Prefix) error {
	idx, err := a.index(p)
	if err != nil {
		return err
	}
	if a.used.Bit(idx) == 1 {
		return fmt.Errorf("nodeipam: %s is already in use", p)
	}
	a.used.SetBit(a.used, idx, 1)
	a.count++
	return nil
}

// Release frees p (a subnet not in use, or not the cluster CIDR's, is ignored).
func (a *Allocator) Release(p netip.Prefix) {
	idx, err := a.index(p)
	if err != nil || a.used.Bit(idx) == 0 {
		return
	}
	a.used.SetBit(a.used, idx, 0)
	a.count--
}

// index is p's number among the cluster CIDR's subnets.
func (a *Allocator) index(p netip.Prefix) (int, error) {
	if p.Bits() != a.mask || !a.cluster.Contains(p.Addr()) || p.Masked() != p {
		return 0, fmt.Errorf("nodeipam: %s is not a /%d subnet of %s", p, a.mask, a.cluster)
	}
	off := new(big.Int).Sub(new(big.Int).SetBytes(p.Addr().AsSlice()), new(big.Int).SetBytes(a.cluster.Addr().AsSlice()))
	off.Rsh(off, uint(p.Addr().BitLen()-a.mask))
	return int(off.Int64()), nil
}

// subnet is the idx-th subnet.
func (a *Allocator) subnet(idx int) netip.Prefix {
	base := new(big.Int).SetBytes(a.cluster.Addr().AsSlice())
	off := new(big.Int).Lsh(big.NewInt(int64(idx)), uint(a.cluster.Addr().BitLen()-a.mask))
	b := new(big.Int).Add(base, off).Bytes()
	buf := make([]byte, a.cluster.Addr().BitLen()/8)
	copy(buf[len(buf)-len(b):], b)
	addr, _ := netip.AddrFromSlice(buf)
	return netip.PrefixFrom(addr, a.mask)
}
