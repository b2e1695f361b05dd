package proxy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
