package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/cluster/store"
)

// change is the comparable content of one event.
type change struct {
	Type    store.EventType
	Key     string
	Value   string
	Prev    string
	Created bool
	Rev     int64
}

func toChange(ev store.Event) change {
	c := change{Type: ev.Type, Key: ev.Key, Prev: string(ev.PrevValue), Created: ev.Created, Rev: ev.Revision}
	if ev.Type == store.Put {
		c.Value = string(ev.Value)
	}
	return c
}

func describe(ev store.Event) string {
	if ev.Type == store.Error {
		return fmt.Sprintf("error(%v)", ev.Err)
	}
	return fmt.Sprintf("%+v", toChange(ev))
}

// op is one write of a scripted sequence.
type op struct {
	kind       string // create, update or delete
	key, value string
}

// model mirrors the store's contents so that a script yields the events a watch must see.
type model map[string]string

func modelOf(items []store.KV) model {
	m := model{}
	for _, kv := range items {
		m[kv.Key] = string(kv.Value)
	}
	return m
}

// run performs ops on s and returns the change each one must produce.
func (m model) run(t *testing.T, s store.Store, ops ...op) []change {
	t.Helper()
	ctx := t.Context()
	var out []change
	for _, o := range ops {
		prev, existed := m[o.key]
		c := change{Key: o.key, Value: o.value, Type: store.Put}
		switch o.kind {
		case "create":
			c.Created, c.Rev = true, revOf(t)(s.Create(ctx, o.key, []byte(o.value)))
		case "update":
			c.Prev, c.Rev = prev, revOf(t)(s.Update(ctx, o.key, []byte(o.value), 0))
		case "delete":
			c = change{Type: store.Delete, Key: o.key, Prev: prev, Rev: revOf(t)(s.Delete(ctx, o.key, 0))}
		default:
			t.Fatalf("bad op %q", o.kind)
		}
		if o.kind != "create" && !existed {
			t.Fatalf("script error: %s of absent %q", o.kind, o.key)
		}
		if c.Type == store.Delete {
			delete(m, o.key)
		} else {
			m[o.key] = o.value
		}
		out = append(out, c)
	}
	return out
}

// sentinel is written after a script: once a watch sees it, it has seen everything before.
const sentinel = "~end"

// collect reads events until the sentinel key (prefix+sentinel) arrives, which it leaves out.
func collect(t *testing.T, ch <-chan store.Event, prefix string, opts Options) []store.Event {
	t.Helper()
	var evs []store.Event
	for {
		ev := next(t, ch, opts)
		if ev.Key == prefix+sentinel {
			return evs
		}
		evs = append(evs, ev)
	}
}

// check compares what a watch from some point saw with the changes the script made since
// then. Exactly when the store does not coalesce; otherwise order, state and deletes only.
func check(t *testing.T, prefix string, got []store.Event, want []change, initial model, opts Options) {
	t.Helper()
	if !opts.MayCoalesce {
		var gotC []change
		for i, ev := range got {
			c := toChange(ev)
			if i < len(want) && want[i].Type == store.Delete && want[i].Rev == 0 {
				want[i].Rev = c.Rev // a backend may not report a delete's revision
			}
			gotC = append(gotC, c)
		}
		if diff := cmp.Diff(want, gotC); diff != "" {
			t.Errorf("watch events (-want +got):\n%s", diff)
		}
		return
	}
	state := model{}
	for k, v := range initial {
		state[k] = v
	}
	var last int64
	for _, ev := range got {
		if !strings.HasPrefix(ev.Key, prefix) {
			t.Errorf("event outside prefix %q: %s", prefix, describe(ev))
		}
		if ev.Revision < last {
			t.Errorf("event out of order: %s after revision %d", describe(ev), last)
		}
		last = ev.Revision
		prev, known := state[ev.Key]
		if known && string(ev.PrevValue) != prev || ev.Type == store.Put && ev.Created == known {
			t.Errorf("event %s does not follow the state before it (known=%v prev=%q)", describe(ev), known, prev)
		}
		if ev.Type == store.Delete {
			delete(state, ev.Key)
		} else {
			state[ev.Key] = string(ev.Value)
		}
	}
	final := model{}
	for k, v := range initial {
		final[k] = v
	}
	for _, c := range want {
		if c.Type == store.Delete {
			delete(final, c.Key)
		} else {
			final[c.Key] = c.Value
		}
	}
	if diff := cmp.Diff(final, state); diff != "" {
		t.Errorf("state replayed from watch events (-want +got):\n%s", diff)
	}
}
