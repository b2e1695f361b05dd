package watchcache

import (
	"errors"
	"fmt"
	"testing"
)

// compact drops the ring's events up to a revision and raises the floor to it: reads from
// before it are ErrTooOld, from it on they work, and the ring keeps filling and wrapping after.
func TestCompactDropsTheRingUpToARevision(t *testing.T) {
	c := newCache(Resource{Prefix: "/p/"}, 4, map[string]*Entry{}, 10)
	ev := func(rev int64) *Event {
		return &Event{Type: Put, Revision: rev, Object: &Entry{Key: fmt.Sprintf("/p/k%d", rev), Revision: rev}}
	}
	for r := int64(11); r <= 13; r++ {
		c.record(ev(r))
	}
	c.compact(12)
	if c.floor != 12 || c.n != 1 || c.at(0).Revision != 13 {
		t.Fatalf("after compact(12): floor %d, %d events, first %d; want 12, 1, 13", c.floor, c.n, c.at(0).Revision)
	}
	if _, err := c.snapshot("/p/", "", 11, 13); !errors.Is(err, ErrTooOld) {
		t.Errorf("snapshot at 11 after compact(12): %v, want ErrTooOld", err)
	}
	if _, err := c.snapshot("/p/", "", 12, 13); err != nil {
		t.Errorf("snapshot at 12 after compact(12): %v", err)
	}
	c.compact(11)
	if c.floor != 12 || c.n != 1 {
		t.Errorf("compact(11) below the floor changed it: floor %d, %d events", c.floor, c.n)
	}
	for r := int64(14); r <= 20; r++ {
		c.record(ev(r))
	}
	if c.n != 4 || c.at(0).Revision != 17 || c.floor != 16 {
		t.Errorf("after wrapping: %d events from %d, floor %d; want 4 from 17, floor 16", c.n, c.at(0).Revision, c.floor)
	}
	c.compact(25)
	if c.n != 0 || c.floor != 25 {
		t.Errorf("compact(25) past the newest event: %d events, floor %d; want 0, 25", c.n, c.floor)
	}
	c.record(ev(26))
	if got := c.since(25); len(got) != 1 || got[0].Revision != 26 {
		t.Errorf("since(25) after a new event: %v", got)
	}
}
