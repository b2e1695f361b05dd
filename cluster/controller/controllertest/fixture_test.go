package controllertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/controller"
)

// podWriter is a controller whose sync creates a pod, deletes pod "old" and writes its RC's
// status twice, through the clientset of its Context.
type podWriter struct{ cc controller.Context }

func (*podWriter) Name() string                  { return "podwriter" }
func (*podWriter) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (w *podWriter) sync(ctx context.Context) error {
	pods := w.cc.Client.CoreV1().Pods("ns")
	if _, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: "ns"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := pods.Delete(ctx, "old", metav1.DeleteOptions{}); err != nil {
		return err
	}
	rcs := w.cc.Client.CoreV1().ReplicationControllers("ns")
	for _, n := range []int32{1, 2} {
		rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
			Status: corev1.ReplicationControllerStatus{Replicas: n}}
		if _, err := rcs.UpdateStatus(ctx, rc, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// TestFixture: NewFixture builds the controller and caches the objects; Actions returns what
// one sync issued (not what came before), and Created, Deleted and LastStatus read it.
func TestFixture(t *testing.T) {
	old := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: "ns"}}
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
	fake := NewFake(time.Now(), 10, old, rc)
	fake.NamePods()
	f := NewFixture[*podWriter](t, fake, func(cc controller.Context) (*podWriter, error) {
		return &podWriter{cc: cc}, nil
	}, old)
	if _, err := f.Informers.Core().V1().Pods().Lister().Pods("ns").Get("old"); err != nil {
		t.Errorf("pod not cached: %v", err)
	}
	if _, err := f.Client.CoreV1().Pods("ns").Get(t.Context(), "old", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	actions := f.Actions("sync", f.C.sync)
	if len(actions) != 4 {
		t.Errorf("%d actions, want 4 (the get before the sync cleared): %v", len(actions), actions)
	}
	if got := Created[*corev1.Pod](actions, "pods"); len(got) != 1 || got[0].GenerateName != "web-" {
		t.Errorf("created %d pods, want one named web-…", len(got))
	}
	if got := Deleted(actions, "pods"); !slices.Equal(got, []string{"old"}) {
		t.Errorf("deleted %v, want old", got)
	}
	if got := Created[*corev1.Pod](actions, "replicationcontrollers"); len(got) != 0 {
		t.Errorf("created RCs %v, want none", got)
	}
	got, ok := LastStatus[*corev1.ReplicationController](actions)
	if !ok || got.Status.Replicas != 2 {
		t.Errorf("last status %v (%v), want replicas 2", got, ok)
	}
	if _, ok := LastStatus[*corev1.ReplicationController](actions[:2]); ok {
		t.Error("a status found among a create and a delete")
	}
}

// TestFixtureActionsFails: a failing sync fails the test, naming what failed.
func TestFixtureActionsFails(t *testing.T) {
	rt := &recordingTB{TB: t}
	f := &Fixture[*podWriter]{Fake: NewFake(time.Now(), 1), T: rt}
	func() {
		defer func() { _ = recover() }()
		f.Actions("sync default/web", func(context.Context) error { return errors.New("boom") })
	}()
	if rt.fatal != "sync default/web: boom" {
		t.Errorf("fatal = %q", rt.fatal)
	}
}

type recordingTB struct {
	testing.TB
	fatal string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	panic("fatal")
}
