package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestHPADefaultsValidationAndRow(t *testing.T) {
	h := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		MaxReplicas:    5,
		Behavior:       &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: appsInt32(60)}},
	}}
	HPADefault(h)
	m := h.Spec.Metrics
	if *h.Spec.MinReplicas != 1 || len(m) != 1 || m[0].Resource.Name != corev1.ResourceCPU || *m[0].Resource.Target.AverageUtilization != 80 {
		t.Errorf("defaults: %+v", h.Spec)
	}
	b := h.Spec.Behavior
	if len(b.ScaleUp.Policies) != 2 || *b.ScaleUp.StabilizationWindowSeconds != 0 || *b.ScaleDown.StabilizationWindowSeconds != 60 ||
		len(b.ScaleDown.Policies) != 1 || *b.ScaleDown.SelectPolicy != autoscalingv2.MaxChangePolicySelect {
		t.Errorf("behavior defaults: up %+v down %+v", b.ScaleUp, b.ScaleDown)
	}
	if errs := hpaValidateSpec(&h.Spec, fieldPathSpec()); len(errs) != 0 {
		t.Errorf("valid: %v", errs)
	}
	bad := h.DeepCopy()
	bad.Spec.MinReplicas, bad.Spec.MaxReplicas = appsInt32(0), 0
	bad.Spec.ScaleTargetRef.Name = ""
	bad.Spec.Metrics[0].Resource.Target.AverageUtilization = nil
	bad.Spec.Behavior.ScaleUp.Policies[0].PeriodSeconds = 1801
	want := []string{
		"spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
		"spec.maxReplicas: Invalid value: 0: must be greater than 0",
		"spec.scaleTargetRef.name: Required value",
		"spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization",
		"spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800",
	}
	if d := cmp.Diff(want, podErrStrings(hpaValidateSpec(&bad.Spec, fieldPathSpec()))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	r, _ := lookup(autoscalingv2.SchemeGroupVersion.WithResource("horizontalpodautoscalers"))
	row, _ := r.Table.Row(h)
	if d := cmp.Diff([]interface{}{"web", "Deployment/web", "cpu: <unknown>/80%", "1", int64(5), int64(0)}, row[:6]); d != "" {
		t.Errorf("row (-want +got):\n%s", d)
	}
}

func TestPDBValidationAndRow(t *testing.T) {
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: policyv1.PodDisruptionBudgetSpec{
		MinAvailable: intOrStr(intstr.FromInt32(2)), MaxUnavailable: intOrStr(intstr.FromString("120%")), Selector: appsTestSelector(),
	}}
	errs := podErrStrings(pdbValidateSpec(&pdb.Spec, fieldPathSpec()))
	if len(errs) != 2 || errs[0][:len("spec: Invalid value")] != "spec: Invalid value" ||
		errs[1] != `spec.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: must not be greater than 100%` {
		t.Errorf("errors: %q", errs)
	}
	pdb.Spec.MaxUnavailable = nil
	pdb.Status.DisruptionsAllowed = 1
	row, _ := podLookup(t, "policy", "poddisruptionbudgets").Table.Row(pdb)
	if d := cmp.Diff([]interface{}{"web", "2", "N/A", int64(1)}, row[:4]); d != "" {
		t.Errorf("row (-want +got):\n%s", d)
	}
	st := policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: -1}
	if d := cmp.Diff([]string{"status.disruptionsAllowed: Invalid value: -1: must be greater than or equal to 0"},
		podErrStrings(pdbValidateStatus(&st, fieldPathStatus()))); d != "" {
		t.Errorf("status (-want +got):\n%s", d)
	}
}

func TestControllerRevisionValidationAndRow(t *testing.T) {
	cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "web-7d4b9", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", Controller: func() *bool { b := true; return &b }(),
	}}}, Revision: 2}
	if d := cmp.Diff([]string{"data: Required value: data is mandatory"}, podErrStrings(crValidate(cr))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	cr.Data = runtime.RawExtension{Raw: []byte(`{"spec":{}}`)}
	r := podLookup(t, "apps", "controllerrevisions")
	changed := cr.DeepCopy()
	changed.Data = runtime.RawExtension{Raw: []byte(`{"spec":{"x":1}}`)}
	if errs := podErrStrings(r.ValidateUpdate(changed, cr)); len(errs) != 1 {
		t.Errorf("data change: %v", errs)
	}
	row, _ := r.Table.Row(cr)
	if d := cmp.Diff([]interface{}{"web-7d4b9", "statefulset.apps/web", int64(2)}, row[:3]); d != "" {
		t.Errorf("row (-want +got):\n%s", d)
	}
}

func TestHPAV1RoundTripKeepsV2Fields(t *testing.T) {
	h := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{"team": "ci"}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    5,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: appsInt32(70)}}},
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: appsInt32(50)}}},
			},
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{
			{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "ReadyForNewScale"}}},
	}
	HPADefault(h)
	v1, err := HPAV2ToV1(h)
	if err != nil {
		t.Fatal(err)
	}
	if *v1.Spec.TargetCPUUtilizationPercentage != 50 || v1.Annotations[hpaV1MetricsAnnotation] == "" || v1.Annotations[hpaV1ConditionsAnnotation] == "" {
		t.Errorf("v1: %+v", v1)
	}
	back, err := HPAV1ToV2(v1)
	if err != nil {
		t.Fatal(err)
	}
	// The CPU metric comes first after the trip, as in Kubernetes; nothing else is lost.
	want := h.DeepCopy()
	want.Spec.Metrics[0], want.Spec.Metrics[1] = want.Spec.Metrics[1], want.Spec.Metrics[0]
	if d := cmp.Diff(want, back); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}
