package deployment

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func progressingOf(st appsv1.DeploymentStatus) *appsv1.DeploymentCondition {
	return getCondition(st, appsv1.DeploymentProgressing)
}

func TestCalculateStatusCountsAndAvailability(t *testing.T) {
	d := newDeployment("web", 4, num(1), num(0))
	d.Generation = 7
	o, n := rollingPair(d, 3, 3, 2, 1)
	o.Status.ReadyReplicas = 3
	n.Status.ReadyReplicas, n.Status.Replicas = 1, 2
	st := calculateStatus([]*appsv1.ReplicaSet{o, n}, n, d, t0)
	if st.Replicas != 5 || st.UpdatedReplicas != 2 || st.ReadyReplicas != 4 || st.AvailableReplicas != 4 ||
		st.UnavailableReplicas != 1 || st.ObservedGeneration != 7 {
		t.Errorf("status %+v", st)
	}
	if c := getCondition(st, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionTrue || c.Reason != MinimumReplicasAvailable {
		t.Errorf("Available = %+v", c)
	}
	o.Status.AvailableReplicas = 2 // 3 available < 4 - 0
	st = calculateStatus([]*appsv1.ReplicaSet{o, n}, n, d, t0)
	if c := getCondition(st, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionFalse || c.Reason != MinimumReplicasUnavailable ||
		c.Message != "Deployment does not have minimum availability." {
		t.Errorf("Available = %+v", c)
	}
}

// TestRolloutStatusProgressing walks a rollout through the Progressing reasons kubectl and
// Helm look at: progress moves lastUpdateTime, no progress past the deadline times out (and
// stays so), completion reports NewReplicaSetAvailable.
func TestRolloutStatusProgressing(t *testing.T) {
	d := newDeployment("web", 2, num(1), num(0))
	d.Spec.ProgressDeadlineSeconds = i32(10)
	o, n := rollingPair(d, 2, 2, 1, 0)
	n.Status.Replicas = 1
	d.Status = calculateStatus([]*appsv1.ReplicaSet{o, n}, n, d, t0)
	setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, NewReplicaSetReason, "Created new replica set", t0))

	// The new pod becomes available: progress.
	n.Status.AvailableReplicas, n.Status.ReadyReplicas = 1, 1
	t1 := t0.Add(5 * time.Second)
	st := rolloutStatus([]*appsv1.ReplicaSet{o, n}, n, d, t1)
	c := progressingOf(st)
	if c.Reason != ReplicaSetUpdatedReason || c.Status != corev1.ConditionTrue || !c.LastUpdateTime.Time.Equal(t1) ||
		!c.LastTransitionTime.Time.Equal(t0) || c.Message != `ReplicaSet "`+n.Name+`" is progressing.` {
		t.Errorf("after progress: %+v", c)
	}
	d.Status = st

	// Nothing moves; before the deadline nothing changes, after it the rollout has timed out.
	if got := progressCheckAfter(d, st, t1.Add(3*time.Second)); got != 8*time.Second {
		t.Errorf("progress check after %v, want 8s (7 s left + 1 s)", got)
	}
	if st := rolloutStatus([]*appsv1.ReplicaSet{o, n}, n, d, t1.Add(9*time.Second)); progressingOf(st).Reason != ReplicaSetUpdatedReason {
		t.Errorf("timed out early: %+v", progressingOf(st))
	}
	st = rolloutStatus([]*appsv1.ReplicaSet{o, n}, n, d, t1.Add(11*time.Second))
	if c := progressingOf(st); c.Reason != TimedOutReason || c.Status != corev1.ConditionFalse ||
		c.Message != `ReplicaSet "`+n.Name+`" has timed out progressing.` {
		t.Errorf("after the deadline: %+v", c)
	}
	d.Status = st
	if got := progressCheckAfter(d, st, t1.Add(12*time.Second)); got != -1 {
		t.Errorf("a timed-out rollout is checked again after %v", got)
	}

	// The rollout completes after all: NewReplicaSetAvailable.
	o.Spec.Replicas, o.Status = i32(0), appsv1.ReplicaSetStatus{}
	n.Spec.Replicas, n.Status = i32(2), appsv1.ReplicaSetStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	st = rolloutStatus([]*appsv1.ReplicaSet{o, n}, n, d, t1.Add(20*time.Second))
	if c := progressingOf(st); c.Reason != NewRSAvailableReason || c.Status != corev1.ConditionTrue ||
		c.Message != `ReplicaSet "`+n.Name+`" has successfully progressed.` {
		t.Errorf("complete: %+v", c)
	}
}

func TestRolloutStatusWithoutDeadline(t *testing.T) {
	d := newDeployment("web", 1, num(1), num(0))
	d.Spec.ProgressDeadlineSeconds = nil
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: NewReplicaSetReason}}
	n := rsOf(d, "1", 1, 0)
	if c := progressingOf(rolloutStatus([]*appsv1.ReplicaSet{n}, n, d, t0)); c != nil {
		t.Errorf("Progressing %+v without a deadline", c)
	}
}

func TestRolloutStatusCarriesReplicaFailure(t *testing.T) {
	d := newDeployment("web", 1, num(1), num(0))
	n := rsOf(d, "1", 1, 0)
	n.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
		Reason: "FailedCreate", Message: "quota", LastTransitionTime: metav1.NewTime(t0)}}
	st := rolloutStatus([]*appsv1.ReplicaSet{n}, n, d, t0)
	if c := getCondition(st, appsv1.DeploymentReplicaFailure); c == nil || c.Reason != "FailedCreate" || c.Message != "quota" {
		t.Errorf("ReplicaFailure = %+v", c)
	}
}

func TestPausedCondition(t *testing.T) {
	d := newDeployment("web", 1, num(1), num(0))
	d.Spec.Paused = true
	c, ok := pausedCondition(d, t0)
	if !ok || c.Reason != PausedDeployReason || c.Status != corev1.ConditionUnknown || c.Message != "Deployment is paused" {
		t.Fatalf("paused: %+v %v", c, ok)
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{c}
	if _, ok := pausedCondition(d, t0); ok {
		t.Error("paused twice")
	}
	d.Spec.Paused = false
	if c, ok := pausedCondition(d, t0); !ok || c.Reason != ResumedDeployReason || c.Message != "Deployment is resumed" {
		t.Errorf("resumed: %+v %v", c, ok)
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: TimedOutReason}}
	d.Spec.Paused = true
	if _, ok := pausedCondition(d, t0); ok {
		t.Error("a pause replaced ProgressDeadlineExceeded")
	}
}
