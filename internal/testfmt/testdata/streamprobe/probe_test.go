// Package streamprobe is the fixture of TestScriptStreamsOutput: its test prints a line, then
// waits until the file $DROVER_STREAM_PROBE_RELEASE exists, which the outer test creates only
// after it has read that line from scripts/test.sh's output. It is under testdata, so ./...
// never runs it on its own.
package streamprobe

import (
	"fmt"
	"os"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	release := os.Getenv("DROVER_STREAM_PROBE_RELEASE")
	if release == "" {
		t.Skip("run by internal/testfmt's TestScriptStreamsOutput")
	}
	fmt.Println("stream-probe: first line")
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(release); err == nil {
			fmt.Println("stream-probe: released")
			return
		}
	}
	t.Fatal("stream-probe: the release file never appeared: the first line did not reach scripts/test.sh's output while this test ran")
}
