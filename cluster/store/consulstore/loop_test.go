package consulstore

import (
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/drover-ci/drover/cluster/store"
)

func testLoop(start int64) *loop {
	s := &Store{prefix: "p/", hub: store.NewHub(100, start)}
	return &loop{s: s, log: slog.Default(), snap: map[string]*entry{}}
}

func pair(key, value string, create, modify uint64) *api.KVPair {
	return &api.KVPair{Key: "p/" + key, Value: []byte(value), CreateIndex: create, ModifyIndex: modify}
}

type ev struct {
	Type    store.EventType
	Key     string
	Value   string
	Prev    string
	Created bool
	Rev     int64
}

func evs(in []store.Event) []ev {
	var out []ev
	for _, e := range in {
		out = append(out, ev{e.Type, e.Key, string(e.Value), string(e.PrevValue), e.Created, e.Revision})
	}
	return out
}

func TestDiff(t *testing.T) {
	l := testLoop(listRev(9))
	l.snap = l.entries(api.KVPairs{pair("a", "a1", 5, 5), pair("b", "b1", 6, 6), pair("c", "c1", 7, 8), pair("d", "d1", 9, 9)})
	// At index 20: a unchanged, b updated, c and d deleted, d re-created, e created, plus a key
	// no Store wrote.
	got := l.sequence(l.diff(api.KVPairs{
		pair("a", "a1", 5, 5), pair("b", "b2", 6, 12), pair("d", "d2", 15, 15), pair("e", "e1", 20, 20),
		{Key: "p/bad%zz", ModifyIndex: 11},
	}, 9, 20))
	// c's delete is reported at 19, the newest index no put used: before e's create at 20.
	want := []ev{
		{store.Put, "b", "b2", "b1", false, revOf(12)},
		{store.Delete, "d", "", "d1", false, listRev(14)},
		{store.Put, "d", "d2", "", true, revOf(15)},
		{store.Delete, "c", "", "c1", false, deleteRev(19, 1)},
		{store.Put, "e", "e1", "", true, revOf(20)},
	}
	if diff := cmp.Diff(want, evs(got)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if got := l.diff(api.KVPairs{pair("a", "a1", 5, 5), pair("b", "b2", 6, 12), pair("d", "d2", 15, 15), pair("e", "e1", 20, 20)}, 20, 20); len(got) != 0 {
		t.Errorf("unchanged listing gave events %+v", evs(got))
	}
}

func TestDiffSeveralDeletesAtOneIndex(t *testing.T) {
	l := testLoop(listRev(3))
	l.snap = l.entries(api.KVPairs{pair("x", "1", 1, 1), pair("y", "1", 2, 2), pair("z", "1", 3, 3)})
	got := l.sequence(l.diff(nil, 3, 7))
	var revs []int64
	for _, e := range got {
		revs = append(revs, e.Revision)
	}
	if diff := cmp.Diff([]int64{deleteRev(7, 1), deleteRev(7, 2), deleteRev(7, 3)}, revs); diff != "" {
		t.Errorf("delete revisions (-want +got):\n%s", diff)
	}
	// A List answered at index 7 must not see them again from its revision; one at 6 must.
	for _, r := range revs {
		if r <= listRev(6) || r > listRev(7) {
			t.Errorf("delete revision %d outside (listRev(6), listRev(7)]", r)
		}
	}
}

func TestDeleteIndex(t *testing.T) {
	puts := map[uint64]bool{10: true, 9: true, 5: true}
	for _, c := range []struct{ prev, last, want uint64 }{{4, 10, 8}, {8, 10, 10}, {8, 11, 11}, {0, 3, 3}} {
		if got := deleteIndex(puts, c.prev, c.last); got != c.want {
			t.Errorf("deleteIndex(prev %d, last %d) = %d, want %d", c.prev, c.last, got, c.want)
		}
	}
}

func TestSequenceRenumbersWhenIndexGoesBackwards(t *testing.T) {
	l := testLoop(revOf(50))
	l.snap = l.entries(api.KVPairs{pair("a", "1", 40, 40)})
	// A restored Consul answers with a lower index and an older write of a.
	got := l.sequence(l.diff(api.KVPairs{pair("a", "2", 40, 45)}, 0, 45))
	if len(got) != 1 || got[0].Revision <= revOf(50) {
		t.Fatalf("events %+v: want one put after the hub's revision %d", evs(got), revOf(50))
	}
}

func TestRevisionMapping(t *testing.T) {
	if ix, ok := indexOf(revOf(42)); !ok || ix != 42 {
		t.Errorf("indexOf(revOf(42)) = %d, %v", ix, ok)
	}
	for _, r := range []int64{deleteRev(42, 1), listRev(42), -1} {
		if _, ok := indexOf(r); ok {
			t.Errorf("indexOf(%d) accepted a revision no key can have", r)
		}
	}
	if !(revOf(42) < deleteRev(42, 1) && deleteRev(42, lowMask+5) <= listRev(42) && listRev(42) < revOf(43)) {
		t.Error("revision order revOf(i) < deleteRev(i, n) <= listRev(i) < revOf(i+1) broken")
	}
}
