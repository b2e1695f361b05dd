package hollow

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

func TestImages(t *testing.T) {
	r, fc := newFake(t, Options{
		MissingImages:    []string{"jenkins/inbound-agent"},
		UnpullableImages: []string{"nowhere/none:1"},
		PullDelay:        3 * time.Second,
	})
	ctx := context.Background()
	present := func(img string) bool {
		ok, err := r.ImagePresent(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !present("busybox") || !present("docker.io/library/busybox:latest") {
		t.Errorf("unlisted images are not present")
	}
	if present("jenkins/inbound-agent:latest") || present("nowhere/none:1") {
		t.Errorf("missing or unpullable images are present")
	}
	if _, err := r.Create(ctx, container.Spec{Name: "a", Image: "jenkins/inbound-agent"}); !errors.Is(err, container.ErrImageNotFound) {
		t.Errorf("Create with a missing image: %v, want ErrImageNotFound", err)
	}
	if err := r.Pull(ctx, "nowhere/none:1", nil); !errors.Is(err, container.ErrImageNotFound) {
		t.Errorf("Pull of an unpullable image: %v, want ErrImageNotFound", err)
	}

	var statuses []string
	done := make(chan error, 1)
	go func() {
		done <- r.Pull(ctx, "docker.io/jenkins/inbound-agent:latest", func(p container.PullProgress) { statuses = append(statuses, p.Status) })
	}()
	waitTimer(t, fc)
	fc.Step(2 * time.Second)
	if !pending(done) {
		t.Fatal("Pull finished before its delay")
	}
	fc.Step(time.Second)
	if err := recv(t, done); err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if len(statuses) < 3 || statuses[len(statuses)-2] != "Pull complete" {
		t.Errorf("progress statuses %q", statuses)
	}
	if !present("jenkins/inbound-agent") {
		t.Errorf("image absent after Pull")
	}

	cctx, cancel := context.WithCancel(ctx)
	r.RemoveImage("busybox")
	if present("busybox") {
		t.Errorf("removed image present")
	}
	go func() { done <- r.Pull(cctx, "busybox", nil) }()
	waitTimer(t, fc)
	cancel()
	if err := recv(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Pull: %v", err)
	}
	r.AddImage("busybox")
	if !present("busybox") {
		t.Errorf("added image absent")
	}
}

func TestInfoOverrides(t *testing.T) {
	r := New(Options{Info: container.Info{Hostname: "hollow-7", CPUs: 32}})
	info, err := r.Info(context.Background())
	if err != nil || info.Hostname != "hollow-7" || info.CPUs != 32 || info.MemoryBytes != 8<<30 || info.RuntimeName != "hollow" {
		t.Errorf("Info = %+v, %v", info, err)
	}
}

func TestListByLabels(t *testing.T) {
	r, fc := newFake(t, Options{})
	ctx := context.Background()
	mk := func(name string, labels map[string]string) string {
		id, err := r.Create(ctx, container.Spec{Name: name, Image: "app", Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		fc.Step(time.Second)
		return id
	}
	a := mk("a", map[string]string{"pod": "p1", "ctr": "web"})
	b := mk("b", map[string]string{"pod": "p1", "ctr": "side"})
	mk("c", map[string]string{"pod": "p2", "ctr": "web"})
	got, err := r.List(ctx, map[string]string{"pod": "p1"})
	if err != nil || len(got) != 2 || got[0].ID != a || got[1].ID != b {
		t.Fatalf("List(pod=p1) = %+v, %v; want a, b", got, err)
	}
	got[0].Labels["pod"] = "changed"
	if again, _ := r.List(ctx, map[string]string{"pod": "p1", "ctr": "web"}); len(again) != 1 || again[0].ID != a {
		t.Errorf("List after mutating a returned label map: %+v", again)
	}
	if all, _ := r.List(ctx, nil); len(all) != 3 {
		t.Errorf("List(nil) = %d containers, want 3", len(all))
	}
}
