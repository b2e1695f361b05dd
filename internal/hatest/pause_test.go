package hatest_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// requestLine matches the API server's debug log line of one request.
var requestLine = regexp.MustCompile(`^time=(\S+) .*msg=request method=(POST|PUT|PATCH|DELETE) path=(\S+) duration=(\S+)`)

// A controller leader frozen (SIGSTOP) past its Lease loses it to another server; after it
// resumes it must not act on what changed meanwhile (pods deleted, the RC scaled) until it
// holds the Lease again: its API server (which only its own controller manager reaches while
// it is out of the balancer) records no write but to the Lease.
func TestPausedLeaderStopsActing(t *testing.T) {
	c, cs := startHA(t, "pause", "--log-level", "debug")
	const ns, app = "default", "web"
	ctx := context.Background()
	if err := retry(20*time.Second, func(ctx context.Context) error {
		_, err := cs.CoreV1().ReplicationControllers(ns).Create(ctx, rc(app, 5), metav1.CreateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := waitRunning(ctx, cs, ns, app, 5, nil, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	old, err := c.WaitLeader(ctx, nil, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.LB.SetOut(old.Addr, true)
	paused := time.Now()
	old.Pause()
	next, err := c.WaitLeader(ctx, old, HandoverBound)
	if err != nil {
		old.Resume()
		t.Fatal(err)
	}
	t.Logf("server %d frozen; server %d took the Lease %v later", old.Index, next.Index, time.Since(paused).Round(time.Millisecond))

	// Work for a controller: two pods deleted, the RC scaled to 4. The new leader does it.
	names, _, err := activePods(ctx, cs, ns, app)
	if err != nil {
		t.Fatal(err)
	}
	gone := map[string]bool{}
	for _, n := range names[:2] {
		if err := retry(20*time.Second, func(ctx context.Context) error {
			return cs.CoreV1().Pods(ns).Delete(ctx, n, metav1.DeleteOptions{})
		}); err != nil {
			t.Fatal(err)
		}
		gone[n] = true
	}
	if err := scale(cs, ns, app, 4); err != nil {
		t.Fatal(err)
	}
	if err := waitRunning(ctx, cs, ns, app, 4, gone, HandoverBound); err != nil {
		t.Fatal(err)
	}

	old.Mark("resumed")
	// Nothing in the frozen process runs until SIGCONT: a request that started before this
	// instant was sent before the freeze (between the test's reading of the clock before
	// Pause and the SIGSTOP taking hold, the process still ran and may have sent one).
	resumed := time.Now()
	old.Resume()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(after(old.Log(), "resumed"), "stopped leading") {
		if time.Now().After(deadline) {
			t.Fatalf("server %d did not log \"stopped leading\" within 15 s of resuming", old.Index)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // let anything it would still do reach the log
	c.LB.SetOut(old.Addr, false)

	// What the fence let through before the freeze: a write the API server logs after SIGCONT
	// was sent before it when the fence let it through before the mark and not after it (on
	// a busy machine the server's handler of a write sent just before SIGSTOP starts after
	// SIGCONT, so its own start time cannot tell).
	full := old.Log()
	before, afterMark := full, after(full, "resumed")
	if i := strings.LastIndex(full, "==== test harness: resumed"); i >= 0 {
		before = full[:i]
	}
	sentBefore, sentAfter := fenceSent(before), fenceSent(afterMark)
	var acted []string
	for _, line := range strings.Split(afterMark, "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "controller manager: leading") {
			break // it holds the Lease again: acting is allowed from here
		}
		m := requestLine.FindStringSubmatch(line)
		if m == nil || strings.Contains(m[3], "/leases/") {
			continue
		}
		end, err1 := time.Parse(time.RFC3339Nano, m[1])
		d, err2 := time.ParseDuration(m[4])
		if err1 != nil || err2 != nil {
			t.Fatalf("unparsable request log line %q", line)
		}
		if end.Add(-d).Before(resumed) || (sentBefore[m[2]+" "+m[3]] && !sentAfter[m[2]+" "+m[3]]) {
			// Sent while it still led, and frozen in flight: the API server finishes it.
			t.Logf("request sent before the freeze, finished after: %s %s (%s)", m[2], m[3], m[4])
			continue
		}
		acted = append(acted, m[2]+" "+m[3])
	}
	if len(acted) > 0 {
		t.Errorf("server %d wrote after resuming without the Lease: %v", old.Index, acted)
	}
	if err := waitRunning(ctx, cs, ns, app, 4, gone, 10*time.Second); err != nil {
		t.Errorf("after the old leader resumed: %v", err)
	}
}

// fenceLine matches the controller manager's debug line of a write its fence let through.
var fenceLine = regexp.MustCompile(`msg="controller manager: write sent" method=(\S+) path=(\S+)`)

// fenceSent is the set of "METHOD PATH" the fence let through in log.
func fenceSent(log string) map[string]bool {
	out := map[string]bool{}
	for _, m := range fenceLine.FindAllStringSubmatch(log, -1) {
		out[m[1]+" "+m[2]] = true
	}
	return out
}

// after returns what follows the harness mark named text in log.
func after(log, text string) string {
	i := strings.LastIndex(log, "==== test harness: "+text)
	if i < 0 {
		return ""
	}
	return log[i:]
}
