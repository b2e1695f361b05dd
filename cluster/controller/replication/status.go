package replication

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// calculateStatus is the status the controller reports for its owned active pods
// (Kubernetes' calculateStatus): counts, observedGeneration, and a ReplicaFailure condition
// while creating or deleting pods fails.
func calculateStatus(rc *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := *rc.Status.DeepCopy()
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = 0, 0, 0
	tmpl := labels.SelectorFromSet(rc.Spec.Template.Labels)
	for _, p := range pods {
		if tmpl.Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if podReady(p) {
			st.ReadyReplicas++
			if available(p, rc.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
	}
	st.ObservedGeneration = rc.Generation
	failure := conditionIndex(st.Conditions, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure < 0:
		reason := "FailedCreate"
		if len(pods) > int(replicasOf(rc)) {
			reason = "FailedDelete"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure >= 0:
		st.Conditions = append(st.Conditions[:failure:failure], st.Conditions[failure+1:]...)
	}
	return st
}

// available reports whether a ready pod has been ready for minReadySeconds.
func available(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if minReadySeconds == 0 {
		return true
	}
	c := readyCondition(p)
	d := time.Duration(minReadySeconds) * time.Second
	return c != nil && !c.LastTransitionTime.IsZero() && !c.LastTransitionTime.Add(d).After(now)
}

func conditionIndex(conds []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) int {
	for i := range conds {
		if conds[i].Type == t {
			return i
		}
	}
	return -1
}

// updateStatus writes st unless the controller already reports it; on a conflict it retries
// once on the latest object, as Kubernetes' updateReplicaSetStatus does.
func (c *Controller) updateStatus(ctx context.Context, rc *appsv1.ReplicaSet, st appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if apiequality.Semantic.DeepEqual(rc.Status, st) {
		return rc, nil
	}
	next := rc.DeepCopy()
	var err error
	for i := 0; i < 2; i++ {
		next.Status = st
		var out *appsv1.ReplicaSet
		if out, err = c.kind.updateStatus(ctx, next); err == nil {
			return out, nil
		}
		if i == 1 {
			break
		}
		fresh, gerr := c.kind.fresh(ctx, rc.Namespace, rc.Name)
		if gerr != nil {
			return nil, fmt.Errorf("status of %s/%s: %w", rc.Namespace, rc.Name, gerr)
		}
		st.ObservedGeneration = min(st.ObservedGeneration, fresh.Generation)
		next = fresh
	}
	return nil, fmt.Errorf("status of %s/%s: %w", rc.Namespace, rc.Name, err)
}
