// Package logtest gives tests a *slog.Logger whose records show with the test that made
// them: written through t.Log, so `go test` prints them for a failing test (and with -v).
package logtest

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// New is a logger writing text records of every level from debug up through t.Log. Records
// logged after the test has ended (by a goroutine it left behind) are dropped, since t.Log
// may not be called then.
func New(t testing.TB) *slog.Logger {
	w := &writer{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: shortTime}))
}

// shortTime writes the time of day only: the date is the test run's.
func shortTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
		return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05.000"))
	}
	return a
}

// writer hands each record (the handler writes one per call) to t.Log until the test ends.
type writer struct {
	mu    sync.Mutex
	t     testing.TB
	ended bool
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *writer) close() {
	w.mu.Lock()
	w.ended = true
	w.mu.Unlock()
}
