package consulstore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/drover-ci/drover/cluster/store"
)

// The change log: every write's transaction also sets a log entry under the Store's prefix,
// LOG/<random id>, whose ModifyIndex is therefore the write's own and whose value says what the
// write did: "D" and the key for a delete, "P", the key and the new value for a put ("p" and
// the key only when the value is too big to carry twice within Consul's transaction limit).
// The watch loop follows only the log with its blocking queries: each answer gives every write
// since the last one, in index order, with its value, so no write is coalesced and the loop
// reads no other key (but those big values). No store key can be named like the log ('%' is
// always escaped as "%25" in keys), so List and the full re-list skip it.
//
// The log is trimmed by the loops once it holds more than logKeep entries: the oldest go, and
// the trim marker LOG/~trim (in the same transaction, check-and-set) records the newest index
// trimmed. A loop whose last answer is older than that marker, or that sees entries vanish
// otherwise (a DeleteTree from outside), re-lists the whole prefix once, as before the log.
const (
	logDir      = "%log/"
	logTrimName = "~trim"
	logKeep     = 512
	txnMaxOps   = 64 // Consul's limit of operations per transaction
	// logValueMax is the largest value a log entry carries: with the write's own copy, base64
	// in the transaction's JSON, it stays within Consul's 512 KiB transaction limit.
	logValueMax = 128 << 10
)

// logOp is the log entry written in a write's transaction (value nil for a delete).
func (s *Store) logOp(verb byte, encKey string, value []byte) *api.TxnOp {
	if verb == 'P' && len(value) > logValueMax {
		verb, value = 'p', nil
	}
	v := binary.AppendUvarint([]byte{verb}, uint64(len(encKey)))
	v = append(append(v, encKey...), value...)
	return &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVSet, Key: s.prefix + logDir + randomID(), Value: v}}
}

func randomID() string {
	var id [12]byte
	_, _ = rand.Read(id[:])
	return hex.EncodeToString(id[:])
}

// change is one log entry: what a write at index did to a key (its Consul name below the
// prefix).
type change struct {
	index    uint64
	verb     byte
	enc      string
	value    []byte
	logEntry string
}

func parseChange(p *api.KVPair) (change, bool) {
	if len(p.Value) < 2 {
		return change{}, false
	}
	n, w := binary.Uvarint(p.Value[1:])
	if w <= 0 || uint64(len(p.Value)-1-w) < n {
		return change{}, false
	}
	rest := p.Value[1+w:]
	return change{index: p.ModifyIndex, verb: p.Value[0], enc: string(rest[:n]), value: rest[n:], logEntry: p.Key}, true
}

// logState is one answer of the log: entries newer than prev (oldest first), the trim marker's
// value and index, and every entry (for trimming and to notice entries that vanished).
type logState struct {
	news                 []change
	trimmed, markerIndex uint64
	all                  []*api.KVPair
}

func (l *loop) readLog(pairs api.KVPairs, prev uint64) logState {
	var st logState
	for _, p := range pairs {
		if strings.TrimPrefix(p.Key, l.s.prefix+logDir) == logTrimName {
			st.trimmed, _ = strconv.ParseUint(string(p.Value), 10, 64)
			st.markerIndex = p.ModifyIndex
			continue
		}
		st.all = append(st.all, p)
		if c, ok := parseChange(p); ok && p.ModifyIndex > prev {
			st.news = append(st.news, c)
		}
	}
	sort.Slice(st.news, func(i, j int) bool { return st.news[i].index < st.news[j].index })
	return st
}

// vanished reports whether an entry of the previous answer is gone without a trim covering it.
func (l *loop) vanished(st logState) bool {
	now := make(map[string]bool, len(st.all))
	for _, p := range st.all {
		now[p.Key] = true
	}
	for key, index := range l.logSeen {
		if !now[key] && index > st.trimmed {
			return true
		}
	}
	return false
}

// remember keeps the entries of an answer for vanished.
func (l *loop) remember(all []*api.KVPair) {
	l.logSeen = make(map[string]uint64, len(all))
	for _, p := range all {
		l.logSeen[p.Key] = p.ModifyIndex
	}
}

// fetch reads the current entries of the given Consul keys (below the prefix), 64 to a
// transaction; a missing key is absent from the result.
func (l *loop) fetch(ctx context.Context, encs []string) (map[string]*api.KVPair, error) {
	out := make(map[string]*api.KVPair, len(encs))
	for len(encs) > 0 {
		n := min(len(encs), txnMaxOps)
		ops := make(api.TxnOps, n)
		for i, enc := range encs[:n] {
			ops[i] = &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVGetOrEmpty, Key: l.s.prefix + enc}}
		}
		encs = encs[n:]
		var resp api.TxnResponse
		if _, err := l.txn.Raw().Write("/v1/txn", ops, &resp, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
			return nil, err
		}
		for _, r := range resp.Results {
			if r.KV != nil && r.KV.ModifyIndex != 0 {
				out[strings.TrimPrefix(r.KV.Key, l.s.prefix)] = r.KV
			}
		}
	}
	return out, nil
}

// follow turns log entries, oldest first, into one event each. A put whose value the entry does
// not carry is read from Consul; if the key was written again since, that put is coalesced into
// the later write, which has an entry of its own.
func (l *loop) follow(ctx context.Context, news []change) ([]store.Event, error) {
	var big []string
	for _, c := range news {
		if c.verb == 'p' {
			big = append(big, c.enc)
		}
	}
	var fetched map[string]*api.KVPair
	if len(big) > 0 {
		var err error
		if fetched, err = l.fetch(ctx, big); err != nil {
			return nil, err
		}
	}
	var evs []store.Event
	for _, c := range news {
		key, err := decodeKey(c.enc)
		if err != nil {
			continue
		}
		old := l.snap[key]
		value := c.value
		switch c.verb {
		case 'D':
			if old != nil {
				evs = append(evs, store.Event{Type: store.Delete, Key: key, PrevValue: old.value, Revision: deleteRev(c.index, 1)})
				delete(l.snap, key)
			}
			continue
		case 'p':
			p := fetched[c.enc]
			if p == nil || p.ModifyIndex != c.index {
				continue
			}
			value = p.Value
		case 'P':
		default:
			continue
		}
		if value == nil {
			value = []byte{}
		}
		ev := store.Event{Type: store.Put, Key: key, Value: value, Revision: revOf(c.index)}
		e := &entry{value: value, create: c.index, modify: c.index}
		if old == nil {
			ev.Created = true
		} else {
			ev.PrevValue, e.create = old.value, old.create
		}
		evs = append(evs, ev)
		l.snap[key] = e
	}
	return evs, nil
}

// trim deletes the oldest log entries once there are more than logKeep, with the trim marker
// moved past them in the same transaction (check-and-set: of loops trimming at once, one wins).
func (l *loop) trim(ctx context.Context, all []*api.KVPair, trimmed, markerIndex uint64) error {
	if len(all) <= logKeep {
		return nil
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ModifyIndex < all[j].ModifyIndex })
	all = all[:len(all)-logKeep/2]
	for len(all) > 0 {
		drop := all[:min(len(all), txnMaxOps-1)]
		all = all[len(drop):]
		trimmed = max(trimmed, drop[len(drop)-1].ModifyIndex)
		ops := api.TxnOps{{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: l.s.prefix + logDir + logTrimName,
			Value: []byte(strconv.FormatUint(trimmed, 10)), Index: markerIndex}}}
		for _, p := range drop {
			ops = append(ops, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: p.Key}})
		}
		var resp api.TxnResponse
		_, err := l.txn.Raw().Write("/v1/txn", ops, &resp, (&api.WriteOptions{}).WithContext(ctx))
		if isConflict(err) {
			return nil // another loop trims
		}
		if err != nil {
			return fmt.Errorf("trim the change log: %w", err)
		}
		if len(resp.Results) == 0 || resp.Results[0].KV == nil {
			return nil
		}
		markerIndex = resp.Results[0].KV.ModifyIndex
	}
	return nil
}
