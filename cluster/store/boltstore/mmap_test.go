package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLongReadDoesNotStallWrites: writes that grow the file go on while a read transaction
// stays open. bbolt remaps a file that outgrows its mapping, and a remap waits for every open
// read transaction (and blocks new ones); with bbolt's default mapping the writes below waited
// for the read to end. In the 2,000-node density step such a stall outlasted the controller
// manager's 7 s Lease renew deadline, twice.
func TestLongReadDoesNotStallWrites(t *testing.T) {
	ctx := context.Background()
	s, err := OpenWithOptions(filepath.Join(t.TempDir(), "state.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.db.Begin(false) // a long list, say
	if err != nil {
		t.Fatal(err)
	}
	value := make([]byte, 1<<20)
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 48; i++ { // 48 MB: past bbolt's first mappings (32 KB doubling)
			if _, err := s.Create(ctx, fmt.Sprintf("big/%02d", i), value); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		// Not a speed limit: without a large enough mapping the writes wait for the read
		// transaction forever. Let them finish so the store can close.
		_ = tx.Rollback()
		<-done
		t.Fatal("writes that grow the file waited for an open read transaction (bbolt remapped the file)")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenUnderAnAddressSpaceLimit: where ulimit -v forbids mapping 10 GiB ahead, the store
// still opens (with bbolt's own sizing) and says so in its log. Run in a child process, whose
// address space is limited to 3 GiB.
func TestOpenUnderAnAddressSpaceLimit(t *testing.T) {
	if dir := os.Getenv("BOLTSTORE_LIMITED_CHILD"); dir != "" {
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: 3 << 30, Max: 3 << 30}); err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		s, err := OpenWithOptions(filepath.Join(dir, "state.db"), Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Create(context.Background(), "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "cannot map the database file ahead") {
			t.Fatalf("no warning logged: %q", log.String())
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestOpenUnderAnAddressSpaceLimit$", "-test.v")
	cmd.Env = append(os.Environ(), "BOLTSTORE_LIMITED_CHILD="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child with a 3 GiB address space: %v\n%s", err, out)
	}
}

// TestSlowCommitIsLogged: a commit slower than SlowCommit is logged with its writes and where
// the time went (every other write of the server waited behind it).
func TestSlowCommitIsLogged(t *testing.T) {
	var log bytes.Buffer
	s, err := OpenWithOptions(filepath.Join(t.TempDir(), "state.db"), Options{SlowCommit: time.Nanosecond,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Create(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"boltstore: slow commit", "writes=1", "took=", "writeAndSync=", "pagesWritten="} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log %q lacks %q", log.String(), want)
		}
	}
}
