package app

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsclient "k8s.io/client-go/kubernetes/typed/apps/v1"
	"k8s.io/client-go/util/retry"
)

// applyStatefulSet creates the set, or updates what a StatefulSet update may change (replicas,
// template, updateStrategy, revisionHistoryLimit, minReadySeconds, the claims' retention
// policy) and keeps the rest as it is (selector, serviceName, podManagementPolicy,
// volumeClaimTemplates: Kubernetes refuses to change them). Whether anything would change is
// asked of the API server with a dry-run update, so that its defaults compare equal. A changed
// template makes the StatefulSet controller replace the pod (RollingUpdate).
func applyStatefulSet(ctx context.Context, c appsclient.StatefulSetInterface, want *appsv1.StatefulSet) (string, error) {
	what := ""
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := c.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if _, err := c.Create(ctx, want, metav1.CreateOptions{}); err != nil {
				return err
			}
			what = "created"
			return nil
		}
		if err != nil {
			return err
		}
		kept := ""
		if claimTemplatesDiffer(cur, want) {
			kept = " (its volumeClaimTemplates stay as they are: a StatefulSet's cannot change; the claim keeps its size)"
		}
		next := cur.DeepCopy()
		changed := mergeMeta(&next.ObjectMeta, want.ObjectMeta)
		next.Spec.Replicas = want.Spec.Replicas
		next.Spec.Template = want.Spec.Template
		next.Spec.UpdateStrategy = want.Spec.UpdateStrategy
		next.Spec.RevisionHistoryLimit = want.Spec.RevisionHistoryLimit
		next.Spec.MinReadySeconds = want.Spec.MinReadySeconds
		next.Spec.PersistentVolumeClaimRetentionPolicy = want.Spec.PersistentVolumeClaimRetentionPolicy
		dry, err := c.Update(ctx, next, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if !changed && apiequality.Semantic.DeepEqual(dry.Spec, cur.Spec) {
			what = "unchanged" + kept
			return nil
		}
		if _, err := c.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
			return err
		}
		what = "configured" + kept
		return nil
	})
	if err != nil {
		return "", err
	}
	return what, nil
}

// claimTemplatesDiffer reports whether want's claim templates ask for other names or sizes
// than cur's (which stay: Kubernetes refuses to change them).
func claimTemplatesDiffer(cur, want *appsv1.StatefulSet) bool {
	a, b := cur.Spec.VolumeClaimTemplates, want.Spec.VolumeClaimTemplates
	if len(a) != len(b) {
		return true
	}
	for i := range a {
		x, y := a[i].Spec.Resources.Requests.Storage(), b[i].Spec.Resources.Requests.Storage()
		if a[i].Name != b[i].Name || x.Cmp(*y) != 0 {
			return true
		}
	}
	return false
}
