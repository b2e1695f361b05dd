package scheduler

import (
	"testing"
	"time"
)

func TestCacheAssumeConfirmForget(t *testing.T) {
	c := newSchedCache()
	c.with(func(s *Snapshot) { s.SetNode(hollowNode("node-a")) })
	p := newPod("p", withRequests("3", ""))
	node, err, skipped := c.scheduleAndAssume(p)
	if err != nil || skipped || node != "node-a" {
		t.Fatalf("scheduleAndAssume = %q, %v, %v", node, err, skipped)
	}
	if _, _, skipped := c.scheduleAndAssume(p); !skipped {
		t.Fatal("an assumed pod was placed twice")
	}
	if _, err, _ := c.scheduleAndAssume(newPod("q", withRequests("3", ""))); err == nil {
		t.Fatal("the assumed pod's cpu was not counted")
	}
	c.forget(p)
	if got := c.snap.Node("node-a").ReqCPU; got != 0 {
		t.Fatalf("after forget ReqCPU = %d", got)
	}
	// confirmed by the informer: no longer assumed, still counted
	c.scheduleAndAssume(p)
	bound := p.DeepCopy()
	bound.Spec.NodeName = "node-a"
	c.addPod(bound)
	if len(c.assumed) != 0 || c.snap.Node("node-a").ReqCPU != 3000 {
		t.Fatalf("after confirm: assumed %v, ReqCPU %d", c.assumed, c.snap.Node("node-a").ReqCPU)
	}
}

func TestCacheExpire(t *testing.T) {
	c := newSchedCache()
	c.with(func(s *Snapshot) { s.SetNode(hollowNode("node-a")) })
	now := time.Unix(1000, 0)
	kept, gone, inFlight := newPod("kept", withRequests("1", "")), newPod("gone", withRequests("1", "")), newPod("flight", withRequests("1", ""))
	c.scheduleAndAssume(kept)
	c.scheduleAndAssume(gone)
	c.scheduleAndAssume(inFlight)
	c.finishBinding(kept, now)
	c.finishBinding(gone, now)
	n := c.expire(now.Add(time.Second), func(_, name, _ string) bool { return name != "kept" })
	if n != 1 || len(c.assumed) != 2 {
		t.Fatalf("expired %d, left %d", n, len(c.assumed))
	}
	if got := c.snap.Node("node-a").ReqCPU; got != 2000 {
		t.Errorf("ReqCPU = %d, want 2000 (kept and in flight)", got)
	}
}
