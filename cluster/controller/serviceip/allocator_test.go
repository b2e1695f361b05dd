package serviceip

import (
	"errors"
	"net/netip"
	"testing"
)

func TestIPRangeSkipsNetworkBroadcastAndReserved(t *testing.T) {
	r, err := NewIPRange("10.96.0.0/29") // 8 addresses: .0 network, .7 broadcast, .1 reserved
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Reserved(); got != netip.MustParseAddr("10.96.0.1") {
		t.Errorf("Reserved = %s", got)
	}
	if r.Free() != 5 {
		t.Errorf("Free = %d, want 5", r.Free())
	}
	seen := map[netip.Addr]bool{}
	for i := 0; i < 5; i++ {
		ip, err := r.AllocateNext()
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if seen[ip] || !r.Has(ip) {
			t.Fatalf("allocation %d: %s twice or not marked", i, ip)
		}
		seen[ip] = true
	}
	for _, bad := range []string{"10.96.0.0", "10.96.0.1", "10.96.0.7"} {
		if seen[netip.MustParseAddr(bad)] {
			t.Errorf("%s was handed out", bad)
		}
	}
	if _, err := r.AllocateNext(); !errors.Is(err, ErrFull) {
		t.Errorf("exhausted range: %v, want ErrFull", err)
	}
	// The reserved address is still free to be taken by name.
	if err := r.Allocate(r.Reserved()); err != nil {
		t.Errorf("Allocate(reserved): %v", err)
	}
	if err := r.Allocate(netip.MustParseAddr("10.96.0.3")); !errors.Is(err, ErrAllocated) {
		t.Errorf("Allocate(taken): %v, want ErrAllocated", err)
	}
	for _, out := range []string{"10.96.0.7", "10.96.0.0", "10.97.0.3", "::1"} {
		if err := r.Allocate(netip.MustParseAddr(out)); !errors.Is(err, ErrNotInRange) {
			t.Errorf("Allocate(%s): %v, want ErrNotInRange", out, err)
		}
	}
	r.Release(netip.MustParseAddr("10.96.0.4"))
	if ip, err := r.AllocateNext(); err != nil || ip != netip.MustParseAddr("10.96.0.4") {
		t.Errorf("after a release: %s, %v; want 10.96.0.4", ip, err)
	}
}

func TestIPRangeRoundRobin(t *testing.T) {
	r, err := NewIPRange("10.0.0.0/24")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.AllocateNext()
	r.Release(a)
	b, _ := r.AllocateNext()
	if a == b {
		t.Errorf("a released address (%s) was handed out again at once", a)
	}
	if a != netip.MustParseAddr("10.0.0.2") || b != netip.MustParseAddr("10.0.0.3") {
		t.Errorf("first allocations %s, %s; want 10.0.0.2, 10.0.0.3", a, b)
	}
}

func TestIPRangeLargeCIDRWrapsAcrossWords(t *testing.T) {
	r, err := NewIPRange("10.96.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	// 65536 less network, broadcast, the kubernetes service (.1) and cluster DNS (.10).
	if r.Free() != 65532 {
		t.Fatalf("Free = %d", r.Free())
	}
	seen := map[netip.Addr]bool{}
	for i := 0; i < 65532; i++ {
		ip, err := r.AllocateNext()
		if err != nil || seen[ip] {
			t.Fatalf("allocation %d: %s, %v (dup %v)", i, ip, err, seen[ip])
		}
		seen[ip] = true
	}
	if seen[netip.MustParseAddr("10.96.0.10")] || seen[netip.MustParseAddr("10.96.0.1")] {
		t.Error("AllocateNext handed out the kubernetes service or cluster DNS address")
	}
	if _, err := r.AllocateNext(); !errors.Is(err, ErrFull) {
		t.Errorf("full /16: %v", err)
	}
	mid := netip.MustParseAddr("10.96.128.64")
	r.Release(mid)
	if ip, err := r.AllocateNext(); ip != mid || err != nil {
		t.Errorf("the one free address: %s, %v; want %s", ip, err, mid)
	}
}

func TestNewIPRangeRejects(t *testing.T) {
	for _, cidr := range []string{"10.96.0.0/31", "fd00::/112", "nonsense"} {
		if _, err := NewIPRange(cidr); err == nil {
			t.Errorf("NewIPRange(%q) accepted", cidr)
		}
	}
}

func TestPortRange(t *testing.T) {
	r, err := NewPortRange(30000, 30002)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Allocate(30001); err != nil {
		t.Fatal(err)
	}
	got := map[int]bool{}
	for i := 0; i < 2; i++ {
		p, err := r.AllocateNext()
		if err != nil || p < 30000 || p > 30002 || p == 30001 {
			t.Fatalf("AllocateNext = %d, %v", p, err)
		}
		got[p] = true
	}
	if len(got) != 2 {
		t.Errorf("duplicates: %v", got)
	}
	if _, err := r.AllocateNext(); !errors.Is(err, ErrFull) {
		t.Errorf("exhausted: %v", err)
	}
	if err := r.Allocate(30001); !errors.Is(err, ErrAllocated) {
		t.Errorf("taken: %v", err)
	}
	if err := r.Allocate(29999); !errors.Is(err, ErrNotInRange) {
		t.Errorf("below: %v", err)
	}
	if err := r.Allocate(30003); !errors.Is(err, ErrNotInRange) {
		t.Errorf("above: %v", err)
	}
	r.Release(30000)
	if r.Has(30000) || r.Free() != 1 {
		t.Errorf("after release: has %v free %d", r.Has(30000), r.Free())
	}
	if _, err := NewPortRange(32767, 30000); err == nil {
		t.Error("inverted range accepted")
	}
}
