package registry

import (
	"encoding/json"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The annotations in which autoscaling/v1 carries what only v2 can say (Kubernetes' names).
// Unlike Kubernetes, whose annotations hold autoscaling/v1's own MetricSpec/MetricStatus
// shapes, drover writes the v2 JSON of the metrics; the behaviour and conditions are the same.
const (
	hpaV1MetricsAnnotation        = "autoscaling.alpha.kubernetes.io/metrics"
	hpaV1CurrentMetricsAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics"
	hpaV1BehaviorAnnotation       = "autoscaling.alpha.kubernetes.io/behavior"
	hpaV1ConditionsAnnotation     = "autoscaling.alpha.kubernetes.io/conditions"
)

// hpaV1Resource describes autoscaling/v1 horizontalpodautoscalers: a view of the v2 objects
// (stored as v2), which `kubectl autoscale` of kubectl 1.32 creates.
func hpaV1Resource() *Resource {
	v2 := hpaResource()
	return &Resource{
		Group: "autoscaling", Version: "v1", Resource: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler",
		SingularName: "horizontalpodautoscaler", ShortNames: []string{"hpa"}, Categories: []string{"all"},
		Namespaced: true, Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscaler{} },
		NewList: func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscalerList{} },
		Default: func(obj runtime.Object) {
			h := obj.(*autoscalingv1.HorizontalPodAutoscaler)
			if h.Spec.MinReplicas == nil {
				h.Spec.MinReplicas = appsInt32(1)
			}
			if h.Spec.TargetCPUUtilizationPercentage == nil && h.Annotations[hpaV1MetricsAnnotation] == "" {
				h.Spec.TargetCPUUtilizationPercentage = appsInt32(hpaDefaultCPUUtilization)
			}
		},
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*autoscalingv1.HorizontalPodAutoscaler).Status = autoscalingv1.HorizontalPodAutoscalerStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return hpaV1Validate(func(h2, _ runtime.Object) field.ErrorList { return v2.Validate(h2) })(obj, nil)
		},
		ValidateUpdate:       hpaV1Validate(v2.ValidateUpdate),
		ValidateStatusUpdate: hpaV1Validate(v2.ValidateStatusUpdate),
		Table: &Table{Columns: v2.Table.Columns, Row: func(obj runtime.Object) ([]interface{}, error) {
			h2, err := HPAV1ToV2(obj.(*autoscalingv1.HorizontalPodAutoscaler))
			if err != nil {
				return nil, err
			}
			return v2.Table.Row(h2)
		}},
		Storage: &Storage{
			Kind: autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"),
			New:  func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
			ToStorage: func(obj runtime.Object) (runtime.Object, error) {
				return HPAV1ToV2(obj.(*autoscalingv1.HorizontalPodAutoscaler))
			},
			FromStorage: func(stored runtime.Object) (runtime.Object, error) {
				h2 := stored.(*autoscalingv2.HorizontalPodAutoscaler)
				HPADefault(h2) // what Kubernetes applies when it decodes the stored v2 object
				return HPAV2ToV1(h2)
			},
		},
	}
}

// hpaV1Validate checks a v1 autoscaler by the v2 rules (Kubernetes validates its internal
// type, which is v2's shape, so the field paths are v2's).
func hpaV1Validate(v2 func(obj, old runtime.Object) field.ErrorList) func(obj, old runtime.Object) field.ErrorList {
	return func(obj, old runtime.Object) field.ErrorList {
		h2, err := HPAV1ToV2(obj.(*autoscalingv1.HorizontalPodAutoscaler))
		if err != nil {
			return field.ErrorList{field.Invalid(field.NewPath("metadata", "annotations"), "", err.Error())}
		}
		var o2 runtime.Object
		if old != nil {
			if o2, err = HPAV1ToV2(old.(*autoscalingv1.HorizontalPodAutoscaler)); err != nil {
				return nil
			}
		}
		return v2(h2, o2)
	}
}

// HPAV1ToV2 converts an autoscaling/v1 autoscaler to v2, as Kubernetes' conversion does:
// targetCPUUtilizationPercentage becomes the first metric, and the annotations v1 keeps v2's
// other fields in are read back (and dropped).
func HPAV1ToV2(h *autoscalingv1.HorizontalPodAutoscaler) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	out := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: *h.ObjectMeta.DeepCopy()}
	out.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: h.Spec.ScaleTargetRef.Kind, Name: h.Spec.ScaleTargetRef.Name,
			APIVersion: h.Spec.ScaleTargetRef.APIVersion},
		MinReplicas: h.Spec.MinReplicas, MaxReplicas: h.Spec.MaxReplicas,
	}
	if t := h.Spec.TargetCPUUtilizationPercentage; t != nil {
		out.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: hpaCopy(t)}}}}
	}
	out.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: hpaCopy(h.Status.ObservedGeneration), LastScaleTime: h.Status.LastScaleTime.DeepCopy(),
		CurrentReplicas: h.Status.CurrentReplicas, DesiredReplicas: h.Status.DesiredReplicas,
	}
	var other []autoscalingv2.MetricSpec
	var statuses []autoscalingv2.MetricStatus
	for _, a := range []struct {
		key  string
		into interface{}
	}{
		{hpaV1MetricsAnnotation, &other}, {hpaV1CurrentMetricsAnnotation, &statuses},
		{hpaV1BehaviorAnnotation, &out.Spec.Behavior}, {hpaV1ConditionsAnnotation, &out.Status.Conditions},
	} {
		if v, ok := out.Annotations[a.key]; ok {
			if err := json.Unmarshal([]byte(v), a.into); err != nil {
				return nil, fmt.Errorf("annotation %s: %w", a.key, err)
			}
			delete(out.Annotations, a.key)
		}
	}
	if len(out.Annotations) == 0 {
		out.Annotations = nil
	}
	out.Spec.Metrics = append(out.Spec.Metrics, other...)
	if len(statuses) > 0 {
		out.Status.CurrentMetrics = statuses
	} else if c := h.Status.CurrentCPUUtilizationPercentage; c != nil {
		out.Status.CurrentMetrics = []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
			Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: hpaCopy(c)}}}}
	}
	return out, nil
}

// HPAV2ToV1 converts an autoscaling/v2 autoscaler to v1: the CPU utilisation metric becomes
// targetCPUUtilizationPercentage; other metrics, current metrics, behaviour and conditions
// go into annotations.
func HPAV2ToV1(h *autoscalingv2.HorizontalPodAutoscaler) (*autoscalingv1.HorizontalPodAutoscaler, error) {
	out := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: *h.ObjectMeta.DeepCopy()}
	out.Spec = autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: h.Spec.ScaleTargetRef.Kind, Name: h.Spec.ScaleTargetRef.Name,
			APIVersion: h.Spec.ScaleTargetRef.APIVersion},
		MinReplicas: h.Spec.MinReplicas, MaxReplicas: h.Spec.MaxReplicas,
	}
	var other []autoscalingv2.MetricSpec
	for _, m := range h.Spec.Metrics {
		if out.Spec.TargetCPUUtilizationPercentage == nil && m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil &&
			m.Resource.Name == corev1.ResourceCPU && m.Resource.Target.AverageUtilization != nil {
			out.Spec.TargetCPUUtilizationPercentage = hpaCopy(m.Resource.Target.AverageUtilization)
			continue
		}
		other = append(other, m)
	}
	out.Status = autoscalingv1.HorizontalPodAutoscalerStatus{
		LastScaleTime: h.Status.LastScaleTime.DeepCopy(), CurrentReplicas: h.Status.CurrentReplicas, DesiredReplicas: h.Status.DesiredReplicas,
	}
	if g := h.Status.ObservedGeneration; g != nil {
		out.Status.ObservedGeneration = hpaCopy(g)
	}
	for _, m := range h.Status.CurrentMetrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Current.AverageUtilization != nil {
			out.Status.CurrentCPUUtilizationPercentage = hpaCopy(m.Resource.Current.AverageUtilization)
			break
		}
	}
	for _, a := range []struct {
		key   string
		value interface{}
		set   bool
	}{
		{hpaV1MetricsAnnotation, other, len(other) > 0}, {hpaV1CurrentMetricsAnnotation, h.Status.CurrentMetrics, len(h.Status.CurrentMetrics) > 0},
		{hpaV1BehaviorAnnotation, h.Spec.Behavior, h.Spec.Behavior != nil}, {hpaV1ConditionsAnnotation, h.Status.Conditions, len(h.Status.Conditions) > 0},
	} {
		if !a.set {
			continue
		}
		b, err := json.Marshal(a.value)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w", a.key, err)
		}
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[a.key] = string(b)
	}
	return out, nil
}

func hpaCopy[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
