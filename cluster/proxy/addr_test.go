package proxy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/internal/uptest"
)

// fakeIP is the `ip` command over an in-memory device lo: addresses with their labels.
type fakeIP struct {
	mu    sync.Mutex
	addrs map[string]string // prefix → label ("lo" when none)
	order []string
	calls []string
}

func newFakeIP(preset map[string]string) *fakeIP {
	f := &fakeIP{addrs: map[string]string{}}
	for p, lbl := range preset {
		f.put(p, lbl)
	}
	return f
}

func (f *fakeIP) put(prefix, label string) {
	f.addrs[prefix] = label
	f.order = append(f.order, prefix)
	slices.Sort(f.order)
}

func (f *fakeIP) line(prefix string) string {
	family := "inet"
	if strings.Contains(prefix, ":") {
		family = "inet6"
	}
	return fmt.Sprintf("1: lo    %s %s scope host %s\\       valid_lft forever preferred_lft forever\n", family, prefix, f.addrs[prefix])
}

func (f *fakeIP) run(_ context.Context, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.Join(args, " "))
	exists := errors.New("exit status 2")
	switch {
	case len(args) >= 5 && args[0] == "addr" && args[1] == "add":
		if _, ok := f.addrs[args[2]]; ok {
			return []byte("RTNETLINK answers: File exists"), exists
		}
		label := "lo"
		if len(args) == 7 && args[5] == "label" && !strings.Contains(args[2], ":") {
			label = args[6]
		}
		f.put(args[2], label)
	case len(args) >= 5 && args[0] == "addr" && args[1] == "del":
		if _, ok := f.addrs[args[2]]; !ok {
			return []byte("RTNETLINK answers: Cannot assign requested address"), exists
		}
		delete(f.addrs, args[2])
		f.order = slices.DeleteFunc(f.order, func(p string) bool { return p == args[2] })
	case args[0] == "-o" && slices.Contains(args, "to"):
		if _, ok := f.addrs[args[len(args)-1]]; ok {
			return []byte(f.line(args[len(args)-1])), nil
		}
	case args[0] == "-o" && args[1] == "-4":
		var b strings.Builder
		for _, p := range f.order {
			if !strings.Contains(p, ":") {
				b.WriteString(f.line(p))
			}
		}
		return []byte(b.String()), nil
	default:
		return []byte("unexpected"), fmt.Errorf("fake ip: %q", args)
	}
	return nil, nil
}

func (f *fakeIP) has() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

// newTestLoopback is a Loopback of pid 100 over f; pids in alive are running.
func newTestLoopback(f *fakeIP, alive ...int) *Loopback {
	l := NewLoopback("lo")
	l.run, l.pid = f.run, 100
	l.alive = func(pid int) bool { return slices.Contains(alive, pid) }
	return l
}

func TestLoopbackCountsAndKeepsForeignAddresses(t *testing.T) {
	f := newFakeIP(map[string]string{"10.96.0.1/32": "lo"}) // someone else's
	l := newTestLoopback(f)
	ctx := context.Background()
	for _, step := range []func() error{
		func() error { return l.Add(ctx, "10.96.0.10") },
		func() error { return l.Add(ctx, "10.96.0.10") },
		func() error { return l.Remove(ctx, "10.96.0.10") },
		func() error { return l.Add(ctx, "10.96.0.1") },
		func() error { return l.Remove(ctx, "10.96.0.1") },
		func() error { return l.Remove(ctx, "10.96.0.10") },
		func() error { return l.Remove(ctx, "10.96.0.10") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"-o -4 addr show dev lo", "addr add 10.96.0.10/32 dev lo label lo:drv100",
		"addr add 10.96.0.1/32 dev lo label lo:drv100", "-o addr show dev lo to 10.96.0.1/32", "addr del 10.96.0.10/32 dev lo"}
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("ip commands (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"10.96.0.1/32"}, f.has()); diff != "" {
		t.Errorf("addresses left (-want +got):\n%s", diff)
	}
	if err := l.Add(ctx, "not-an-ip"); err == nil {
		t.Error("Add of a malformed address: no error")
	}
	l.run = func(context.Context, ...string) ([]byte, error) {
		return []byte("RTNETLINK answers: Operation not permitted"), errors.New("exit status 2")
	}
	if err := l.Add(ctx, "10.96.0.11"); err == nil || !strings.Contains(err.Error(), "Operation not permitted") {
		t.Errorf("Add when ip fails: %v, want its message", err)
	}
}

// A drover killed -9 left its addresses on lo. The next run takes over the ones it uses
// again and removes them when it stops, prunes the others at once, and leaves alone the
// addresses of a drover still running and those nobody labelled.
func TestLoopbackRemovesLeftovers(t *testing.T) {
	f := newFakeIP(map[string]string{
		"10.96.0.10/32": "lo:drv42",  // dead drover, used again
		"10.96.0.50/32": "lo:drv42",  // dead drover, service gone
		"10.96.0.60/32": "lo:drv100", // an earlier run with this pid (a restarted container)
		"10.96.0.70/32": "lo:drv777", // a drover still running
		"10.96.0.80/32": "lo",        // not drover's
		"10.96.0.90/32": "lo:eth",    // not drover's
	})
	l := newTestLoopback(f, 777)
	ctx := context.Background()
	if err := l.Add(ctx, "10.96.0.10"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"10.96.0.10/32", "10.96.0.70/32", "10.96.0.80/32", "10.96.0.90/32"}, f.has()); diff != "" {
		t.Errorf("after the first Add (-want +got):\n%s", diff)
	}
	for _, ip := range []string{"10.96.0.70", "10.96.0.80"} {
		if err := l.Add(ctx, ip); err != nil {
			t.Fatal(err)
		}
	}
	for _, ip := range []string{"10.96.0.10", "10.96.0.70", "10.96.0.80"} {
		if err := l.Remove(ctx, ip); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"10.96.0.70/32", "10.96.0.80/32", "10.96.0.90/32"}, f.has()); diff != "" {
		t.Errorf("after stopping (-want +got):\n%s", diff)
	}
}

// A leftover the first Add could not see (it appeared after the prune) is still taken over
// when added; Prune removes leftovers on demand and keeps what is held.
func TestLoopbackTakesOverAndPrunes(t *testing.T) {
	f := newFakeIP(nil)
	l := newTestLoopback(f)
	ctx := context.Background()
	if err := l.Add(ctx, "10.96.0.1"); err != nil {
		t.Fatal(err)
	}
	f.put("10.96.0.2/32", "lo:drv42")
	f.put("10.96.0.3/32", "lo:drv43")
	if err := l.Add(ctx, "10.96.0.2"); err != nil {
		t.Fatal(err)
	}
	removed, err := l.Prune(ctx)
	if err != nil || !slices.Equal(removed, []string{"10.96.0.3/32"}) {
		t.Errorf("Prune = %v, %v; want 10.96.0.3/32", removed, err)
	}
	_ = l.Remove(ctx, "10.96.0.2")
	_ = l.Remove(ctx, "10.96.0.1")
	if got := f.has(); len(got) != 0 {
		t.Errorf("left %v", got)
	}
}

func TestLoopbackLabels(t *testing.T) {
	f := newFakeIP(nil)
	l := newTestLoopback(f)
	ctx := context.Background()
	if err := l.Add(ctx, "fd00::10"); err != nil {
		t.Fatal(err)
	}
	if c := f.calls[len(f.calls)-1]; c != "addr add fd00::10/128 dev lo" {
		t.Errorf("IPv6 add %q, want no label (Linux keeps none)", c)
	}
	long := NewLoopback("a-long-device0")
	long.pid = 4194304
	if got := long.label(); got != "" {
		t.Errorf("label %q longer than IFNAMSIZ", got)
	}
	if got := l.label(); got != "lo:drv100" {
		t.Errorf("label %q", got)
	}
	for line, want := range map[string]int{
		`1: lo    inet 10.96.0.10/32 scope host lo:drv42\       valid_lft forever`: 42,
		`1: lo    inet 10.96.0.10/32 scope host lo\       valid_lft forever`:       0,
		`1: lo    inet 10.96.0.10/32 scope host lo:drvx\       valid_lft forever`:  0,
	} {
		if pid, _ := l.owner(line); pid != want {
			t.Errorf("owner(%q) = %d, want %d", line, pid, want)
		}
	}
}

// TestLoopbackReal adds and removes a 127.0.0.0/8 address on lo, and removes one a dead
// drover left (root only).
func TestLoopbackReal(t *testing.T) {
	l := NewLoopback("lo")
	if err := l.Check(); err != nil {
		uptest.RequireE2E(t, err.Error())
	}
	ctx := context.Background()
	const ip, left = "127.77.0.1", "127.77.0.2"
	has := func(ip string) bool {
		out, err := exec.Command("ip", "-4", "addr", "show", "dev", "lo").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(out), ip+"/32")
	}
	if has(ip) || has(left) {
		t.Skipf("%s or %s is on lo already", ip, left)
	}
	dead := 4194000 // above any pid in use here
	for processAlive(dead) {
		dead++
	}
	if out, err := exec.Command("ip", "addr", "add", left+"/32", "dev", "lo", "label", fmt.Sprintf("lo:drv%d", dead)).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("ip", "addr", "del", ip+"/32", "dev", "lo").Run()
		_ = exec.Command("ip", "addr", "del", left+"/32", "dev", "lo").Run()
	})
	if err := l.Add(ctx, ip); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(ctx, left); err != nil {
		t.Fatal(err)
	}
	if !has(ip) || !has(left) {
		t.Errorf("%s or %s not on lo after Add", ip, left)
	}
	out, _ := exec.Command("ip", "-o", "addr", "show", "dev", "lo", "to", ip+"/32").Output()
	if !strings.Contains(string(out), fmt.Sprintf("lo:drv%d", os.Getpid())) {
		t.Errorf("%s not labelled: %s", ip, out)
	}
	for _, a := range []string{ip, left} {
		if err := l.Remove(ctx, a); err != nil {
			t.Fatal(err)
		}
		if has(a) {
			t.Errorf("%s still on lo after Remove", a)
		}
	}
}

func TestNetAdminFromStatus(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		status string
		want   bool
		err    bool
	}{
		{"Name:\tdrover\nCapEff:\t000001ffffffffff\n", true, false},
		{"CapEff:\t0000000000001000\n", true, false},
		{"CapEff:\t0000000000000fff\n", false, false},
		{"CapEff:\tzz\n", false, true},
		{"Name:\tdrover\n", false, true},
	} {
		path := filepath.Join(dir, "status")
		if err := os.WriteFile(path, []byte(tt.status), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := netAdmin(path)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("%q: %v, %v; want %v, error %v", tt.status, got, err, tt.want, tt.err)
		}
	}
}
