package jenkins_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

// queued returns the single queue item, failing otherwise.
func queued(t *testing.T, c jenkins.Client) jenkins.QueueItem {
	t.Helper()
	items, err := c.Queue(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("queue = %+v, want one item", items)
	}
	return items[0]
}

func TestQueueFreestyleItem(t *testing.T) {
	srv, c := fixture(t)
	freestyle(t, srv, "j", "docker && linux")
	loc := trigger(t, srv, "j")
	if !regexp.MustCompile(`/queue/item/1/$`).MatchString(loc) {
		t.Errorf("Location = %q", loc)
	}
	it := queued(t, c)
	if it.ID != 1 || it.TaskName != "j" || it.TaskURL != srv.URL()+"/job/j/" || !it.Buildable || it.Stuck {
		t.Errorf("item = %+v", it)
	}
	if time.Since(it.InQueueSince) > time.Minute || time.Since(it.InQueueSince) < 0 {
		t.Errorf("inQueueSince = %v", it.InQueueSince)
	}
	// No agent node at all: the why names no label, labelExpression does.
	if it.Why != "Waiting for next available executor" || it.LabelExpression != "docker && linux" || it.Label != "docker && linux" {
		t.Errorf("why %q labelExpression %q label %q", it.Why, it.LabelExpression, it.Label)
	}
}

// TestQueueWhyTexts walks a pipeline item (no labelExpression) through every
// state of DESIGN §7 and checks the label or node parsed from each text.
func TestQueueWhyTexts(t *testing.T) {
	srv, c := fixture(t)
	srv.EnqueuePipeline("p", "docker")
	steps := []struct {
		do          func()
		why         string
		label, node string
	}{
		{func() {}, "Waiting for next available executor", "", ""},
		{func() { mustCreate(t, c, "win", "windows") }, "There are no nodes with the label ‘docker’", "docker", ""},
		{func() { mustCreate(t, c, "a1", "docker") }, "‘a1’ is offline", "", "a1"},
		{func() { mustCreate(t, c, "a2", "docker", "linux") }, "All nodes of label ‘docker’ are offline", "docker", ""},
		{func() { connect(t, srv, "a1") }, "Waiting for next available executor on ‘docker’", "docker", ""},
		{func() { _ = c.SetOffline(ctx(t), "a1", "busy") }, "All nodes of label ‘docker’ are offline", "docker", ""},
	}
	for i, s := range steps {
		s.do()
		it := queued(t, c)
		if it.Why != s.why || it.Label != s.label || it.Node != s.node || it.LabelExpression != "" {
			t.Errorf("step %d: why %q label %q node %q expr %q; want %q %q %q", i, it.Why, it.Label, it.Node,
				it.LabelExpression, s.why, s.label, s.node)
		}
	}
}

func connect(t *testing.T, srv *jenkinstest.Server, name string) {
	t.Helper()
	if err := srv.ConnectAgent(name); err != nil {
		t.Fatal(err)
	}
}

func TestQueueBusyAgentAndAssignment(t *testing.T) {
	srv, c := fixture(t)
	mustCreate(t, c, "a1", "docker")
	connect(t, srv, "a1")
	freestyle(t, srv, "j1", "docker")
	freestyle(t, srv, "j2", "docker")
	trigger(t, srv, "j1")
	trigger(t, srv, "j2")
	started := srv.StartBuilds()
	if len(started) != 1 || started[0].Job != "j1" || started[0].Node != "a1" {
		t.Fatalf("started = %+v", started)
	}
	// j1's item stays listed as pending for a moment (DESIGN §7).
	items, err := c.Queue(ctx(t))
	if err != nil || len(items) != 2 {
		t.Fatalf("queue = %+v, %v; want j1 pending and j2 waiting", items, err)
	}
	if p := items[0]; p.TaskName != "j1" || !p.Pending || !p.Buildable {
		t.Errorf("started item = %+v, want pending", p)
	}
	it := items[1]
	if it.TaskName != "j2" || it.Pending || it.Why != "Waiting for next available executor on ‘docker’" || it.Label != "docker" {
		t.Errorf("item = %+v", it)
	}
	if err := c.CancelQueueItem(ctx(t), it.ID); err != nil {
		t.Fatal(err)
	}
	items, _ = c.Queue(ctx(t))
	for _, i := range items {
		if i.ID == it.ID {
			t.Errorf("queue after cancel = %+v", items)
		}
	}
	var he *jenkins.HTTPError
	if err := c.CancelQueueItem(ctx(t), it.ID); !errors.As(err, &he) || he.Status != 404 {
		t.Errorf("cancel again: err = %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	_, c := fixture(t)
	cctx, cancel := context.WithCancel(ctx(t))
	cancel()
	if _, err := c.Queue(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Queue with cancelled context: err = %v", err)
	}
	if err := c.CreateInboundNode(cctx, jenkins.NodeSpec{Name: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateInboundNode with cancelled context: err = %v", err)
	}
}
