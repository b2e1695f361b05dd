package jenkins_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/cloud/jenkins"
)

func TestCreateInboundNode(t *testing.T) {
	srv, c := fixture(t)
	spec := jenkins.NodeSpec{Name: "docker-1", Description: "drover agent", Labels: []string{"docker", "linux"}, WebSocket: true}
	if err := c.CreateInboundNode(ctx(t), spec); err != nil {
		t.Fatal(err)
	}
	n, ok := srv.Node("docker-1")
	if !ok {
		t.Fatal("node not created")
	}
	want := wantNode("docker-1", "drover agent", []string{"docker", "linux"})
	if diff := cmp.Diff(want, []any{n.Name, n.Description, n.RemoteFS, n.Labels, n.Executors, n.Mode, n.WebSocket}); diff != "" {
		t.Errorf("node (-want +got):\n%s", diff)
	}
	err := c.CreateInboundNode(ctx(t), spec)
	if !errors.Is(err, jenkins.ErrNodeExists) {
		t.Errorf("duplicate: err = %v, want ErrNodeExists", err)
	}
}

func wantNode(name, desc string, labels []string) []any {
	return []any{name, desc, "/home/jenkins/agent", labels, 1, "EXCLUSIVE", true}
}

func TestComputers(t *testing.T) {
	srv, c := fixture(t)
	mustCreate(t, c, "a1", "docker", "linux")
	freestyle(t, srv, "j", "docker && linux")
	trigger(t, srv, "j")
	got, err := c.Computers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []jenkins.Computer{builtIn, {Name: "a1", Offline: true, Idle: true, JNLPAgent: true,
		Labels: []string{"docker", "linux"}, Executors: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("before connect (-want +got):\n%s", diff)
	}
	if err := srv.ConnectAgent("a1"); err != nil {
		t.Fatal(err)
	}
	b := srv.StartBuilds()
	if len(b) != 1 || b[0].Node != "a1" {
		t.Fatalf("StartBuilds = %+v", b)
	}
	got, _ = c.Computers(ctx(t))
	want[1].Offline, want[1].Idle, want[1].Builds = false, false, []string{srv.URL() + "/job/j/1/"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("busy (-want +got):\n%s", diff)
	}
	if err := srv.FinishBuild("j", 1, "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	got, _ = c.Computers(ctx(t))
	want[1].Idle, want[1].Builds = true, nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after build (-want +got):\n%s", diff)
	}
}

func TestAgentSecret(t *testing.T) {
	srv, c := fixture(t)
	mustCreate(t, c, "a1")
	got, err := c.AgentSecret(ctx(t), "a1")
	if err != nil {
		t.Fatal(err)
	}
	if got != srv.Secret("a1") || len(got) != 64 || got == srv.Secret("a2") {
		t.Errorf("secret %q, want %q (64 hex, per name)", got, srv.Secret("a1"))
	}
	if _, err := c.AgentSecret(ctx(t), "nope"); !errors.Is(err, jenkins.ErrNodeNotFound) {
		t.Errorf("missing node: err = %v, want ErrNodeNotFound", err)
	}
}

func TestSetOfflineTogglesOnce(t *testing.T) {
	srv, c := fixture(t)
	mustCreate(t, c, "a1")
	_ = srv.ConnectAgent("a1")
	for i := 0; i < 2; i++ {
		if err := c.SetOffline(ctx(t), "a1", "one-shot agent in use"); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(srv.Requests(), "POST /computer/a1/toggleOffline"); n != 1 {
		t.Errorf("%d toggleOffline requests, want 1", n)
	}
	n, _ := srv.Node("a1")
	if !n.TemporarilyOffline || n.OfflineMessage != "one-shot agent in use" {
		t.Errorf("node = %+v", n)
	}
	cs, _ := c.Computers(ctx(t))
	if len(cs) != 2 || !cs[1].TemporarilyOffline || !cs[1].Offline {
		t.Errorf("computers = %+v", cs)
	}
	if err := c.SetOffline(ctx(t), "nope", "x"); !errors.Is(err, jenkins.ErrNodeNotFound) {
		t.Errorf("missing node: err = %v", err)
	}
}

func TestDeleteNode(t *testing.T) {
	srv, c := fixture(t)
	mustCreate(t, c, "a1")
	mustCreate(t, c, "a2")
	if err := c.DeleteNode(ctx(t), "a1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Node("a1"); ok {
		t.Error("a1 still exists")
	}
	cs, _ := c.Computers(ctx(t))
	if len(cs) != 2 || cs[0].Name != builtIn.Name || cs[1].Name != "a2" {
		t.Errorf("computers = %+v", cs)
	}
	if err := c.DeleteNode(ctx(t), "a1"); !errors.Is(err, jenkins.ErrNodeNotFound) {
		t.Errorf("second delete: err = %v, want ErrNodeNotFound", err)
	}
}

// builtIn is how the adapter reports the controller's own node.
var builtIn = jenkins.Computer{Name: "Built-In Node", Description: "the Jenkins controller's built-in node", Idle: true, Labels: []string{"built-in"}}

func TestCreateNormalNodeAndDescription(t *testing.T) {
	srv, c := fixture(t)
	spec := jenkins.NodeSpec{Name: "any-1", Description: "drover agent (template any)", Mode: "NORMAL"}
	if err := c.CreateInboundNode(ctx(t), spec); err != nil {
		t.Fatal(err)
	}
	if n, _ := srv.Node("any-1"); n.Mode != "NORMAL" {
		t.Errorf("mode = %q, want NORMAL", n.Mode)
	}
	cs, err := c.Computers(ctx(t))
	if err != nil || len(cs) != 2 || cs[1].Description != spec.Description {
		t.Errorf("Computers = %+v, %v; want description %q", cs, err, spec.Description)
	}
}
