package app

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/internal/logtest"
)

// TestServerLogsJSON: with --log-format json every line drover server prints on stderr is a
// JSON object with time, level and msg, client-go's too: its leader election logs through
// klog, which must reach the same handler.
func TestServerLogsJSON(t *testing.T) {
	var stderr logtest.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"server", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--store", "memory://",
			"--log-format", "json"}, Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &stderr})
	}()
	const acquired = "successfully acquired lease" // klog.Infof in client-go's leaderelection
	deadline := time.After(60 * time.Second)
	for !strings.Contains(stderr.String(), acquired) {
		select {
		case err := <-done:
			t.Fatalf("drover server ended: %v\nstderr:\n%s", err, stderr.String())
		case <-deadline:
			t.Fatalf("no %q on stderr within 60 s:\n%s", acquired, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		t.Logf("drover server: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("drover server still ran 30 s after its context ended")
	}
	var klogLine bool
	for i, line := range strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stderr line %d is not JSON (%v): %s", i+1, err, line)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("stderr line %d has no %q: %s", i+1, k, line)
			}
		}
		if msg, _ := rec["msg"].(string); strings.Contains(msg, acquired) {
			klogLine = true
		}
	}
	if !klogLine {
		t.Errorf("no JSON line with msg %q (from klog)", acquired)
	}
}

// TestBadLogFlags: a --log-format or --log-level the processes do not know refuses the start,
// naming the flag.
func TestBadLogFlags(t *testing.T) {
	for _, verb := range []string{"server", "up", "node"} {
		for flag, value := range map[string]string{"--log-format": "xml", "--log-level": "loud"} {
			var stderr bytes.Buffer
			err := Run(t.Context(), []string{verb, flag, value, "--data-dir", t.TempDir()},
				Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &stderr})
			if err == nil || !strings.Contains(err.Error(), flag) || !strings.Contains(err.Error(), value) {
				t.Errorf("drover %s %s %s: %v; want an error naming %s and %q", verb, flag, value, err, flag, value)
			}
		}
	}
}
