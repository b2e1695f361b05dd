package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/internal/uptest"
)

// TestRunStreams: each event's line reaches the terminal before the next event is written.
func TestRunStreams(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var log strings.Builder
	done := make(chan error, 1)
	go func() { done <- run(inR, outW, &log, "example.com/m"); outW.Close() }()
	lines := bufio.NewScanner(outR)
	for _, step := range []struct{ event, want string }{
		{`{"Action":"output","Package":"example.com/m/a","Test":"TestX","Output":"=== RUN   TestX\n"}`, ""},
		{`{"Action":"output","Package":"example.com/m/a","Test":"TestX","Output":"hello\n"}`, "a TestX: hello"},
		{`{"Action":"output","Package":"example.com/m/a","Test":"TestX","Output":"--- FAIL: TestX (0.00s)\n"}`, "a TestX: --- FAIL: TestX (0.00s)"},
		{`{"Action":"output","Package":"example.com/m/a","Output":"FAIL\texample.com/m/a\t0.01s\n"}`, "FAIL\texample.com/m/a\t0.01s"},
		{`# example.com/m/b`, "# example.com/m/b"},
	} {
		if _, err := io.WriteString(inW, step.event+"\n"); err != nil {
			t.Fatal(err)
		}
		if step.want == "" {
			continue
		}
		// The write above returned, and nothing more is written until this line is read: a
		// testfmt that held lines back until its input ended would block here for ever.
		if !lines.Scan() {
			t.Fatalf("output ended before %q", step.want)
		}
		if got := lines.Text(); got != step.want {
			t.Errorf("line = %q, want %q", got, step.want)
		}
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a TestX: === RUN   TestX\n", "a TestX: hello\n", "FAIL\texample.com/m/a\t0.01s\n"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

// TestScriptStreamsOutput runs scripts/test.sh itself on a fixture package whose test prints a
// line and then waits for this test to answer: it passes only if the line is on test.sh's
// output while go test still runs.
func TestScriptStreamsOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scripts/test.sh")
	}
	if os.Getenv("DROVER_CONSUL") == "" || os.Getenv("DOCKER_HOST") == "" {
		uptest.RequireE2E(t, "scripts/test.sh needs DROVER_CONSUL and DOCKER_HOST set (make test sets both)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	release := filepath.Join(t.TempDir(), "release")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts/test.sh"))
	cmd.Env = append(os.Environ(),
		"DROVER_TEST_PKGS=./internal/testfmt/testdata/streamprobe",
		"DROVER_TEST_LOG_DIR="+t.TempDir(),
		"DROVER_STREAM_PROBE_RELEASE="+release,
		"DROVER_KEEP_DOCKER=1",
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen []string
	sawFirst, sawReleased := false, false
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		line := lines.Text()
		seen = append(seen, line)
		switch {
		case strings.Contains(line, "stream-probe: first line") && !sawFirst:
			sawFirst = true
			if err := os.WriteFile(release, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		case strings.Contains(line, "stream-probe: released"):
			sawReleased = true
		}
	}
	err = cmd.Wait()
	tail := seen[max(0, len(seen)-40):]
	if !sawFirst || !sawReleased || err != nil {
		t.Fatalf("scripts/test.sh: first line seen %v, released %v, exit %v; its output ended with:\n%s",
			sawFirst, sawReleased, err, strings.Join(tail, "\n"))
	}
}
