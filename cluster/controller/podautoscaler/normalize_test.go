package podautoscaler

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/registry"
)

func hpa(minR, maxR int32, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior) *autoscalingv2.HorizontalPodAutoscaler {
	h := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &minR, MaxReplicas: maxR, Behavior: behavior}}
	registry.HPADefault(h)
	return h
}

func condition(h *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType) string {
	for _, c := range h.Status.Conditions {
		if c.Type == t {
			return string(c.Status) + "/" + c.Reason
		}
	}
	return ""
}

// TestScaleDownStabilization: without a behavior, a lower recommendation waits for the
// highest one of the last 5 minutes to leave the window (on a fake clock).
func TestScaleDownStabilization(t *testing.T) {
	clk := testingclock.NewFakeClock(now)
	h := newHistory(defaultDownscaleStabilization)
	x := hpa(1, 10, nil)
	h.recordInitial("k", 5, clk.Now())
	if got := h.normalize(x, "k", 5, 2, 1, clk.Now()); got != 5 || condition(x, autoscalingv2.AbleToScale) != "True/ScaleDownStabilized" {
		t.Fatalf("right after 5: %d %s, want 5 ScaleDownStabilized", got, condition(x, autoscalingv2.AbleToScale))
	}
	clk.Step(4 * time.Minute)
	if got := h.normalize(x, "k", 5, 3, 1, clk.Now()); got != 5 {
		t.Fatalf("4 minutes later: %d, want 5", got)
	}
	clk.Step(90 * time.Second) // the 5 has left the window; the 3 of a minute and a half ago has not
	if got := h.normalize(x, "k", 5, 2, 1, clk.Now()); got != 3 {
		t.Fatalf("5.5 minutes later: %d, want 3 (the highest recommendation still in the window)", got)
	}
	clk.Step(5 * time.Minute)
	if got := h.normalize(x, "k", 3, 2, 1, clk.Now()); got != 2 || condition(x, autoscalingv2.AbleToScale) != "True/ReadyForNewScale" {
		t.Fatalf("once the window passed: %d %s, want 2 ReadyForNewScale", got, condition(x, autoscalingv2.AbleToScale))
	}
	if got := h.normalize(x, "k", 2, 30, 1, clk.Now()); got != 4 || condition(x, autoscalingv2.ScalingLimited) != "True/ScaleUpLimit" {
		t.Fatalf("scale up from 2 to 30: %d %s, want 4 (max(2*2, 4)) ScaleUpLimit", got, condition(x, autoscalingv2.ScalingLimited))
	}
	if got := h.normalize(x, "k", 8, 30, 1, clk.Now()); got != 10 || condition(x, autoscalingv2.ScalingLimited) != "True/TooManyReplicas" {
		t.Fatalf("scale up from 8 to 30 with max 10: %d %s, want 10 TooManyReplicas", got, condition(x, autoscalingv2.ScalingLimited))
	}
}

// TestBehaviorPolicies: a behavior's windows and policies, with selectPolicy.
func TestBehaviorPolicies(t *testing.T) {
	clk := testingclock.NewFakeClock(now)
	h := newHistory(defaultDownscaleStabilization)
	window := int32(60)
	minChange := autoscalingv2.MinChangePolicySelect
	x := hpa(1, 20, &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &window,
			Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}}},
		ScaleUp: &autoscalingv2.HPAScalingRules{SelectPolicy: &minChange, Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 2, PeriodSeconds: 60}, {Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 60}}},
	})
	h.recordInitial("k", 4, clk.Now())
	// scale up: the smaller of +2 pods and +100 % wins with Min
	if got := h.normalizeWithBehavior(x, "k", 4, 12, 1, clk.Now()); got != 6 || condition(x, autoscalingv2.ScalingLimited) != "True/ScaleUpLimit" {
		t.Fatalf("4 → 12: %d %s, want 6 ScaleUpLimit", got, condition(x, autoscalingv2.ScalingLimited))
	}
	h.recordScale(x.Spec.Behavior, "k", 4, 6, clk.Now())
	clk.Step(30 * time.Second)
	if got := h.normalizeWithBehavior(x, "k", 6, 12, 1, clk.Now()); got != 6 {
		t.Fatalf("30 s later, the period's 2 pods used: %d, want 6", got)
	}
	clk.Step(31 * time.Second)
	if got := h.normalizeWithBehavior(x, "k", 6, 12, 1, clk.Now()); got != 8 {
		t.Fatalf("after the period: %d, want 8", got)
	}
	h.recordScale(x.Spec.Behavior, "k", 6, 8, clk.Now())
	// scale down: held by the 60 s window, then one pod a minute
	clk.Step(10 * time.Second)
	if got := h.normalizeWithBehavior(x, "k", 8, 2, 1, clk.Now()); got != 8 || condition(x, autoscalingv2.AbleToScale) != "True/ScaleDownStabilized" {
		t.Fatalf("8 → 2 within the window: %d %s, want 8 ScaleDownStabilized", got, condition(x, autoscalingv2.AbleToScale))
	}
	clk.Step(61 * time.Second)
	if got := h.normalizeWithBehavior(x, "k", 8, 2, 1, clk.Now()); got != 7 || condition(x, autoscalingv2.ScalingLimited) != "True/ScaleDownLimit" {
		t.Fatalf("8 → 2 after the window: %d %s, want 7 ScaleDownLimit", got, condition(x, autoscalingv2.ScalingLimited))
	}
	h.recordScale(x.Spec.Behavior, "k", 8, 7, clk.Now())
	clk.Step(20 * time.Second)
	if got := h.normalizeWithBehavior(x, "k", 7, 2, 1, clk.Now()); got != 7 {
		t.Fatalf("20 s after removing one: %d, want 7", got)
	}
	disabled := autoscalingv2.DisabledPolicySelect
	x.Spec.Behavior.ScaleDown.SelectPolicy = &disabled
	clk.Step(5 * time.Minute)
	if got := h.normalizeWithBehavior(x, "k", 7, 2, 1, clk.Now()); got != 7 {
		t.Fatalf("scale-down disabled: %d, want 7", got)
	}
}
