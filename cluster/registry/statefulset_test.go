package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// rollingUpdate.maxUnavailable is dropped on create and on an update that adds it, as
// Kubernetes 1.32 does with the MaxUnavailableStatefulSet gate off: never stored unhonoured.
func TestStatefulSetDropsMaxUnavailable(t *testing.T) {
	r := stsResource()
	two := intstr.FromInt32(2)
	withMax := func() *appsv1.StatefulSet {
		return &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
			Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: &two}}}}
	}
	created := withMax()
	r.PrepareForCreate(created)
	if created.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable != nil {
		t.Errorf("create kept maxUnavailable")
	}
	updated := withMax()
	r.PrepareForUpdate(updated, created)
	if updated.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable != nil {
		t.Errorf("update that adds it kept maxUnavailable")
	}
}
