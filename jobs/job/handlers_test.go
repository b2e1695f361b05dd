package job

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPodEventsSatisfyExpectations(t *testing.T) {
	job := newJob("j", 2, 2)
	f := newFixture(t, job)
	pods := created(f.sync("j"))
	if len(pods) != 2 {
		t.Fatalf("created %d pods, want 2", len(pods))
	}
	pods[0].Name, pods[1].Name = "p0", "p1" // the recorded actions hold the objects before naming
	if f.C.exp.Satisfied("default/j") {
		t.Fatal("expectations satisfied before the informer saw the pods")
	}
	f.Put(pods[0])
	f.C.addPod(pods[0])
	if f.C.exp.Satisfied("default/j") {
		t.Fatal("expectations satisfied after one of two pods was seen")
	}
	f.Put(pods[1])
	f.C.addPod(pods[1])
	if !f.C.exp.Satisfied("default/j") {
		t.Fatal("expectations not satisfied after both pods were seen")
	}
	if n := len(created(f.sync("j"))); n != 0 {
		t.Errorf("created %d more pods with 2 running, want 0", n)
	}
	// A pod of another job (or none) is not credited to this one.
	other := newJob("other", 1, 1)
	if _, ok := f.C.ownerKey(podOf(other, "x", corev1.PodRunning, t0)); ok {
		t.Error("a pod of an unknown job resolved to a job")
	}
}

func TestNoCompletionsStopsAfterFirstSuccess(t *testing.T) {
	job := newJob("q", 0, 3)
	job.Spec.Completions = nil
	f := newFixture(t, job, podOf(job, "ok", corev1.PodSucceeded, t0), podOf(job, "run", corev1.PodRunning, t0))
	acts := f.sync("q")
	if n := len(created(acts)); n != 0 {
		t.Errorf("created %d pods after a success, want 0", n)
	}
	if got := deleted(acts, "pods"); len(got) != 0 {
		t.Errorf("deleted %v, want running pods left to finish", got)
	}
	if c := cond(statusOf(acts), "Complete"); c != nil {
		t.Errorf("complete while a pod still runs: %+v", c)
	}
	f = newFixture(t, job, podOf(job, "ok", corev1.PodSucceeded, t0), podOf(job, "run", corev1.PodSucceeded, t0))
	if c := cond(statusOf(f.sync("q")), "Complete"); c == nil {
		t.Error("not complete once every pod finished after a success")
	}
}

func TestReadyCount(t *testing.T) {
	job := newJob("r", 5, 2)
	a, b := podOf(job, "a", corev1.PodRunning, t0), podOf(job, "b", corev1.PodRunning, t0)
	a.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	f := newFixture(t, job, a, b)
	st := statusOf(f.sync("r"))
	if st == nil || st.Active != 2 || st.Ready == nil || *st.Ready != 1 {
		t.Errorf("status = %+v, want active 2 ready 1", st)
	}
}
