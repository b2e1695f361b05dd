package proxy

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/internal/uptest"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBalancerRoundRobin(t *testing.T) {
	b := newBalancer(time.Now)
	if got := b.candidates("10.0.0.1"); got != nil {
		t.Errorf("no backends: %v, want none", got)
	}
	b.set([]string{"a", "b", "c"}, 0)
	var firsts []string
	for range 4 {
		c := b.candidates("10.0.0.1")
		firsts = append(firsts, c[0])
		if len(c) != 3 {
			t.Errorf("candidates %v, want all three to fall back on", c)
		}
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "a"}, firsts); diff != "" {
		t.Errorf("first choices (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b", "c", "a"}, b.candidates("x")); diff != "" {
		t.Errorf("fallback order (-want +got):\n%s", diff)
	}
	b.set([]string{"a"}, 0) // next index beyond the new list wraps
	if got := b.candidates("x"); !cmp.Equal(got, []string{"a"}) {
		t.Errorf("after shrinking: %v, want [a]", got)
	}
}

func TestBalancerAffinity(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	b := newBalancer(clk.now)
	b.set([]string{"a", "b"}, time.Minute)
	first := b.candidates("10.0.0.1")[0]
	b.connected("10.0.0.1", first)
	for range 3 {
		clk.t = clk.t.Add(50 * time.Second) // each connection renews the session
		if got := b.candidates("10.0.0.1")[0]; got != first {
			t.Fatalf("within the timeout: %q, want %q", got, first)
		}
		b.connected("10.0.0.1", first)
	}
	clk.t = clk.t.Add(time.Minute)
	if got := b.candidates("10.0.0.1")[0]; got == first {
		t.Errorf("expired session still on %q, want round robin's next backend", got)
	}

	// A removed backend ends its sessions.
	b.connected("10.0.0.2", "b")
	b.set([]string{"a", "c"}, time.Minute)
	if got := b.candidates("10.0.0.2")[0]; got == "b" {
		t.Error("session kept a removed backend")
	}
	// Affinity off: sessions are not used.
	b.connected("10.0.0.3", "c")
	b.set([]string{"a", "c"}, 0)
	b.connected("10.0.0.3", "c")
	seen := map[string]bool{}
	for range 2 {
		seen[b.candidates("10.0.0.3")[0]] = true
	}
	if len(seen) != 2 {
		t.Errorf("without affinity one client saw %v, want both backends", seen)
	}
}

func TestLoopbackCountsAndKeepsForeignAddresses(t *testing.T) {
	var calls []string
	l := NewLoopback("lo")
	l.run = func(_ context.Context, args ...string) ([]byte, error) {
		calls = append(calls, strings.Join(args, " "))
		if strings.Contains(args[2], "10.96.0.1/") && args[1] == "add" {
			return []byte("RTNETLINK answers: File exists"), errors.New("exit status 2")
		}
		return nil, nil
	}
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
	want := []string{"addr add 10.96.0.10/32 dev lo", "addr add 10.96.0.1/32 dev lo", "addr del 10.96.0.10/32 dev lo"}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("ip commands (-want +got):\n%s", diff)
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

// TestLoopbackReal adds and removes a 127.0.0.0/8 address on lo (root only).
func TestLoopbackReal(t *testing.T) {
	l := NewLoopback("lo")
	if err := l.Check(); err != nil {
		uptest.RequireE2E(t, err.Error())
	}
	ctx := context.Background()
	const ip = "127.77.0.1"
	has := func() bool {
		out, err := exec.Command("ip", "-4", "addr", "show", "dev", "lo").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(out), ip+"/32")
	}
	if has() {
		t.Skipf("%s is on lo already", ip)
	}
	if err := l.Add(ctx, ip); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "addr", "del", ip+"/32", "dev", "lo").Run() })
	if !has() {
		t.Errorf("%s not on lo after Add", ip)
	}
	if err := l.Remove(ctx, ip); err != nil {
		t.Fatal(err)
	}
	if has() {
		t.Errorf("%s still on lo after Remove", ip)
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
