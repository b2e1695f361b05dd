package registry

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kubernetes' limits on HPA behaviour (MaxPeriodSeconds, MaxStabilizationWindowSeconds) and the
// default CPU target.
const (
	hpaMaxPeriodSeconds       = 1800
	hpaMaxStabilizationWindow = 3600
	hpaDefaultCPUUtilization  = 80
)

// hpaResource describes the autoscaling/v2 horizontalpodautoscalers resource.
func hpaResource() *Resource {
	return &Resource{
		Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler",
		SingularName: "horizontalpodautoscaler", ShortNames: []string{"hpa"}, Categories: []string{"all"},
		Namespaced: true, Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
		NewList: func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscalerList{} },
		Default: func(obj runtime.Object) { HPADefault(obj.(*autoscalingv2.HorizontalPodAutoscaler)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*autoscalingv2.HorizontalPodAutoscaler).Status = autoscalingv2.HorizontalPodAutoscalerStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return hpaValidateSpec(&obj.(*autoscalingv2.HorizontalPodAutoscaler).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return hpaValidateSpec(&obj.(*autoscalingv2.HorizontalPodAutoscaler).Spec, field.NewPath("spec"))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			st := &obj.(*autoscalingv2.HorizontalPodAutoscaler).Status
			return appsNonNegative(field.NewPath("status"),
				appsCount{"currentReplicas", int64(st.CurrentReplicas)}, appsCount{"desiredReplicas", int64(st.DesiredReplicas)})
		},
		Table: hpaTable(),
	}
}

// HPADefault is Kubernetes' SetDefaults_HorizontalPodAutoscaler (autoscaling/v2): minReplicas
// 1, a CPU utilisation target of 80 % when no metric is given, and every unset behaviour
// field filled from the defaults (scale up: 0 s window, max of 4 pods and 100 % per 15 s;
// scale down: the controller's window, 100 % per 15 s). The HPA controller calls it too.
func HPADefault(h *autoscalingv2.HorizontalPodAutoscaler) {
	if h.Spec.MinReplicas == nil {
		h.Spec.MinReplicas = appsInt32(1)
	}
	if len(h.Spec.Metrics) == 0 {
		h.Spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{
				Type: autoscalingv2.UtilizationMetricType, AverageUtilization: appsInt32(hpaDefaultCPUUtilization)}},
		}}
	}
	if b := h.Spec.Behavior; b != nil {
		b.ScaleUp = hpaFillRules(b.ScaleUp, HPAScaleUpRules())
		b.ScaleDown = hpaFillRules(b.ScaleDown, HPAScaleDownRules())
	}
}

// HPAScaleUpRules returns Kubernetes' default scale-up rules.
func HPAScaleUpRules() *autoscalingv2.HPAScalingRules {
	max := autoscalingv2.MaxChangePolicySelect
	return &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: appsInt32(0), SelectPolicy: &max,
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// HPAScaleDownRules returns Kubernetes' default scale-down rules (no window: the
// controller's --horizontal-pod-autoscaler-downscale-stabilization, 5 minutes, applies).
func HPAScaleDownRules() *autoscalingv2.HPAScalingRules {
	max := autoscalingv2.MaxChangePolicySelect
	return &autoscalingv2.HPAScalingRules{
		SelectPolicy: &max,
		Policies:     []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
	}
}

// hpaFillRules is Kubernetes' copyHPAScalingRules: from's set fields over the defaults.
func hpaFillRules(from, defaults *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if from == nil {
		return defaults
	}
	if from.SelectPolicy != nil {
		defaults.SelectPolicy = from.SelectPolicy
	}
	if from.StabilizationWindowSeconds != nil {
		defaults.StabilizationWindowSeconds = from.StabilizationWindowSeconds
	}
	if from.Policies != nil {
		defaults.Policies = from.Policies
	}
	return defaults
}

// hpaValidateSpec is Kubernetes' validateHorizontalPodAutoscalerSpec (scale to zero off).
func hpaValidateSpec(spec *autoscalingv2.HorizontalPodAutoscalerSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.MinReplicas != nil && *spec.MinReplicas < 1 {
		errs = append(errs, field.Invalid(p.Child("minReplicas"), *spec.MinReplicas, "must be greater than or equal to 1"))
	}
	if spec.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), spec.MaxReplicas, "must be greater than 0"))
	}
	if spec.MinReplicas != nil && spec.MaxReplicas < *spec.MinReplicas {
		errs = append(errs, field.Invalid(p.Child("maxReplicas"), spec.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	errs = append(errs, hpaValidateRef(spec.ScaleTargetRef.Kind, spec.ScaleTargetRef.Name, p.Child("scaleTargetRef"))...)
	for i := range spec.Metrics {
		errs = append(errs, hpaValidateMetric(&spec.Metrics[i], p.Child("metrics").Index(i))...)
	}
	if b := spec.Behavior; b != nil {
		errs = append(errs, hpaValidateRules(b.ScaleUp, p.Child("behavior", "scaleUp"))...)
		errs = append(errs, hpaValidateRules(b.ScaleDown, p.Child("behavior", "scaleDown"))...)
	}
	return errs
}

// hpaValidateRef is Kubernetes' ValidateCrossVersionObjectReference.
func hpaValidateRef(kind, name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct{ name, value string }{{"kind", kind}, {"name", name}} {
		if f.value == "" {
			errs = append(errs, field.Required(p.Child(f.name), ""))
			continue
		}
		for _, msg := range path.IsValidPathSegmentName(f.value) {
			errs = append(errs, field.Invalid(p.Child(f.name), f.value, msg))
		}
	}
	return errs
}

// hpaMetricSources are the metric source types, sorted as Kubernetes lists them.
var hpaMetricSources = []string{
	string(autoscalingv2.ContainerResourceMetricSourceType), string(autoscalingv2.ExternalMetricSourceType),
	string(autoscalingv2.ObjectMetricSourceType), string(autoscalingv2.PodsMetricSourceType),
	string(autoscalingv2.ResourceMetricSourceType),
}

// hpaValidateMetric is Kubernetes' validateMetricSpec and the per-source checks.
func hpaValidateMetric(m *autoscalingv2.MetricSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if m.Type == "" {
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric source type"))
	}
	present := map[string]bool{}
	if m.Object != nil {
		present["object"] = true
		errs = append(errs, hpaValidateNamed(m.Object.Metric.Name, p.Child("object", "metric", "name"))...)
		errs = append(errs, hpaValidateRef(m.Object.DescribedObject.Kind, m.Object.DescribedObject.Name, p.Child("object", "describedObject"))...)
		errs = append(errs, hpaValidateTarget(&m.Object.Target, p.Child("object", "target"))...)
	}
	if m.Pods != nil {
		present["pods"] = true
		errs = append(errs, hpaValidateNamed(m.Pods.Metric.Name, p.Child("pods", "metric", "name"))...)
		errs = append(errs, hpaValidateTarget(&m.Pods.Target, p.Child("pods", "target"))...)
	}
	if m.Resource != nil {
		present["resource"] = true
		errs = append(errs, hpaValidateResource(string(m.Resource.Name), &m.Resource.Target, p.Child("resource"))...)
	}
	if m.ContainerResource != nil {
		present["containerResource"] = true
		if m.ContainerResource.Container == "" {
			errs = append(errs, field.Required(p.Child("containerResource", "container"), "must specify a container"))
		}
		errs = append(errs, hpaValidateResource(string(m.ContainerResource.Name), &m.ContainerResource.Target, p.Child("containerResource"))...)
	}
	if m.External != nil {
		present["external"] = true
		errs = append(errs, hpaValidateNamed(m.External.Metric.Name, p.Child("external", "metric", "name"))...)
		errs = append(errs, hpaValidateTarget(&m.External.Target, p.Child("external", "target"))...)
	}
	expected := map[autoscalingv2.MetricSourceType]string{
		autoscalingv2.ObjectMetricSourceType: "object", autoscalingv2.PodsMetricSourceType: "pods",
		autoscalingv2.ResourceMetricSourceType: "resource", autoscalingv2.ContainerResourceMetricSourceType: "containerResource",
		autoscalingv2.ExternalMetricSourceType: "external",
	}[m.Type]
	if expected == "" {
		errs = append(errs, field.NotSupported(p.Child("type"), m.Type, hpaMetricSources))
	} else if !present[expected] {
		errs = append(errs, field.Required(p.Child(expected), "must populate information for the given metric source"))
	}
	if len(present) != 1 {
		for _, typ := range sortedKeys(present) {
			if typ != expected {
				errs = append(errs, field.Forbidden(p.Child(typ), "must populate the given metric source only"))
			}
		}
	}
	return errs
}

func hpaValidateNamed(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "must specify a metric name")}
	}
	return nil
}

// hpaValidateResource is Kubernetes' validateResourceSource (and the container variant).
func hpaValidateResource(name string, t *autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), "must specify a resource name"))
	}
	errs = append(errs, hpaValidateTarget(t, p.Child("target"))...)
	if t.AverageUtilization == nil && t.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageUtilization"), "must set either a target raw value or a target utilization"))
	}
	if t.AverageUtilization != nil && t.AverageValue != nil {
		errs = append(errs, field.Forbidden(p.Child("target", "averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

// hpaValidateTarget is Kubernetes' validateMetricTarget.
func hpaValidateTarget(t *autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.Type == "" {
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric target type"))
	}
	if t.Type != autoscalingv2.UtilizationMetricType && t.Type != autoscalingv2.ValueMetricType && t.Type != autoscalingv2.AverageValueMetricType {
		errs = append(errs, field.Invalid(p.Child("type"), t.Type, "must be either Utilization, Value, or AverageValue"))
	}
	for _, q := range []struct {
		name string
		v    *resource.Quantity
	}{{"value", t.Value}, {"averageValue", t.AverageValue}} {
		if q.v != nil && q.v.Sign() != 1 {
			errs = append(errs, field.Invalid(p.Child(q.name), q.v, "must be positive"))
		}
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(p.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

// hpaValidateRules is Kubernetes' validateScalingRules and validateScalingPolicy.
func hpaValidateRules(r *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil && *w < 0 {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, "must be greater than or equal to zero"))
	} else if w != nil && *w > hpaMaxStabilizationWindow {
		errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, fmt.Sprintf("must be less than or equal to %d", hpaMaxStabilizationWindow)))
	}
	if s := r.SelectPolicy; s != nil && *s != autoscalingv2.MaxChangePolicySelect && *s != autoscalingv2.MinChangePolicySelect && *s != autoscalingv2.DisabledPolicySelect {
		errs = append(errs, field.NotSupported(p.Child("selectPolicy"), *s, []string{
			string(autoscalingv2.DisabledPolicySelect), string(autoscalingv2.MaxChangePolicySelect), string(autoscalingv2.MinChangePolicySelect)}))
	}
	if len(r.Policies) == 0 {
		errs = append(errs, field.Required(p.Child("policies"), "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		pp := p.Child("policies").Index(i)
		if pol.Type != autoscalingv2.PodsScalingPolicy && pol.Type != autoscalingv2.PercentScalingPolicy {
			errs = append(errs, field.NotSupported(pp.Child("type"), pol.Type, []string{
				string(autoscalingv2.PercentScalingPolicy), string(autoscalingv2.PodsScalingPolicy)}))
		}
		if pol.Value <= 0 {
			errs = append(errs, field.Invalid(pp.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.PeriodSeconds, "must be greater than zero"))
		} else if pol.PeriodSeconds > hpaMaxPeriodSeconds {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), pol.PeriodSeconds, fmt.Sprintf("must be less than or equal to %d", hpaMaxPeriodSeconds)))
		}
	}
	return errs
}
