package testagent

import (
	"context"
	"strings"
	"testing"
)

// The builtin interpreter's file commands behave as sh's: what one step writes, the next
// reads; a missing file fails test and cat.
func TestInterpretFiles(t *testing.T) {
	dir := t.TempDir()
	run := func(script string) (int, string) {
		var out []string
		code := interpret(context.Background(), script, dir, []string{"M2=cache"}, func(l string) { out = append(out, l) })
		return code, strings.Join(out, "\n")
	}
	if code, out := run("test -f $M2/marker"); code != 1 {
		t.Fatalf("test -f on a missing file: %d (%s), want 1", code, out)
	}
	if code, out := run("mkdir -p $M2 && echo built once > $M2/marker && echo again >> $M2/marker"); code != 0 {
		t.Fatalf("writing: %d\n%s", code, out)
	}
	code, out := run("test -f cache/marker && cat cache/marker")
	if code != 0 || !strings.Contains(out, "built once\nagain") {
		t.Fatalf("reading: %d\n%s", code, out)
	}
	if code, _ := run("cat nothing-here"); code != 1 {
		t.Errorf("cat of a missing file: %d, want 1", code)
	}
	if code, _ := run("test -d cache"); code != 0 {
		t.Errorf("test -d of a directory: %d, want 0", code)
	}
}
