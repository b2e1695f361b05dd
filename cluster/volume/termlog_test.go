//go:build linux

package volume

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestTerminationLog(t *testing.T) {
	m, _ := newManager(t)
	path, err := m.TerminationLog("u1", "app", 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := modeOf(t, path); got != 0o666 {
		t.Errorf("termination log mode %o, want 666", got)
	}
	if msg, err := m.TerminationMessage("u1", "app", 2); err != nil || msg != "" {
		t.Errorf("empty log: %q, %v", msg, err)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("x", 5000)), 0o666); err != nil {
		t.Fatal(err)
	}
	if msg, _ := m.TerminationMessage("u1", "app", 2); len(msg) != MaxTerminationMessage {
		t.Errorf("message of %d bytes read, want at most %d", len(msg), MaxTerminationMessage)
	}
	if msg, err := m.TerminationMessage("u1", "app", 3); err != nil || msg != "" {
		t.Errorf("no such attempt: %q, %v", msg, err)
	}
	if _, err := m.TerminationLog("u1", "../x", 0); err == nil {
		t.Error("a container name with a slash was accepted")
	}
	if uids, _ := m.PodUIDs(); len(uids) != 1 || uids[0] != "u1" {
		t.Errorf("PodUIDs = %v, want the pod with only a termination log", uids)
	}
	if err := m.Teardown(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("termination log left after teardown: %v", err)
	}
}

func TestHostsFile(t *testing.T) {
	m, _ := newManager(t)
	path, err := m.HostsFile("u1", []byte("one\n"))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	if _, err := m.HostsFile("u1", []byte("two\n")); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if got := readFile(t, path); got != "two\n" || !os.SameFile(before, after) {
		t.Errorf("hosts file %q (same file: %v), want two, rewritten in place", got, os.SameFile(before, after))
	}
	if err := m.Teardown(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("hosts file left after teardown: %v", err)
	}
}
