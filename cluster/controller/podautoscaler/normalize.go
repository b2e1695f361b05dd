package podautoscaler

import (
	"math"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// defaultDownscaleStabilization is --horizontal-pod-autoscaler-downscale-stabilization.
const defaultDownscaleStabilization = 5 * time.Minute

type recommendation struct {
	replicas int32
	at       time.Time
}

type scaleEvent struct {
	change   int32
	at       time.Time
	outdated bool
}

// history is what the controller remembers of each HPA between syncs, as Kubernetes' does in
// memory: its recent recommendations and, with a behaviour, its recent scale events.
type history struct {
	mu              sync.Mutex
	window          time.Duration // the downscale stabilization window without a behaviour
	recommendations map[string][]recommendation
	scaleUps        map[string][]scaleEvent
	scaleDowns      map[string][]scaleEvent
}

func newHistory(window time.Duration) *history {
	return &history{window: window, recommendations: map[string][]recommendation{},
		scaleUps: map[string][]scaleEvent{}, scaleDowns: map[string][]scaleEvent{}}
}

// forget drops a deleted HPA's history.
func (h *history) forget(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.recommendations, key)
	delete(h.scaleUps, key)
	delete(h.scaleDowns, key)
}

// recordInitial records the current count as the first recommendation.
func (h *history) recordInitial(key string, current int32, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.recommendations[key] == nil {
		h.recommendations[key] = []recommendation{{current, now}}
	}
}

// normalize is normalizeDesiredReplicas (no behaviour): the highest recommendation of the
// stabilization window, then the min/max and the scale-up limit (max(2*current, 4)).
func (h *history) normalize(hpa *autoscalingv2.HorizontalPodAutoscaler, key string, current, desired, minReplicas int32, now time.Time) int32 {
	stabilized := h.stabilize(key, desired, now)
	if stabilized != desired {
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation", now)
	} else {
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size", now)
	}
	out, reason, msg := limitWithRules(current, stabilized, minReplicas, hpa.Spec.MaxReplicas)
	limited := corev1.ConditionFalse
	if out != stabilized {
		limited = corev1.ConditionTrue
	}
	setCondition(hpa, autoscalingv2.ScalingLimited, limited, reason, msg, now)
	return out
}

func (h *history) stabilize(key string, desired int32, now time.Time) int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	highest := desired
	old, oldIdx := false, 0
	cutoff := now.Add(-h.window)
	for i, r := range h.recommendations[key] {
		if r.at.Before(cutoff) {
			old, oldIdx = true, i
		} else if r.replicas > highest {
			highest = r.replicas
		}
	}
	rec := recommendation{desired, now}
	if old {
		h.recommendations[key][oldIdx] = rec
	} else {
		h.recommendations[key] = append(h.recommendations[key], rec)
	}
	return highest
}

// limitWithRules is convertDesiredReplicasWithRules.
func limitWithRules(current, desired, minReplicas, maxReplicas int32) (int32, string, string) {
	scaleUpLimit := max(2*current, 4)
	maxAllowed, reason, msg := maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
	if maxReplicas > scaleUpLimit {
		maxAllowed, reason, msg = scaleUpLimit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
	}
	if desired < minReplicas {
		return minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
	}
	if desired > maxAllowed {
		return maxAllowed, reason, msg
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// normalizeWithBehavior is normalizeDesiredReplicasWithBehaviors: the stabilization windows of
// both directions, then the scaling policies' rates and min/max.
func (h *history) normalizeWithBehavior(hpa *autoscalingv2.HorizontalPodAutoscaler, key string, current, desired, minReplicas int32, now time.Time) int32 {
	b := hpa.Spec.Behavior
	if b.ScaleDown.StabilizationWindowSeconds == nil {
		w := int32(h.window.Seconds())
		b.ScaleDown.StabilizationWindowSeconds = &w
	}
	stabilized, reason, msg := h.stabilizeWithBehavior(key, b, current, desired, now)
	if stabilized != desired {
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, reason, msg, now)
	} else {
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size", now)
	}
	out, reason, msg := h.limitWithBehavior(key, b, current, stabilized, minReplicas, hpa.Spec.MaxReplicas, now)
	limited := corev1.ConditionFalse
	if out != stabilized {
		limited = corev1.ConditionTrue
	}
	setCondition(hpa, autoscalingv2.ScalingLimited, limited, reason, msg, now)
	return out
}

func (h *history) stabilizeWithBehavior(key string, b *autoscalingv2.HorizontalPodAutoscalerBehavior, current, desired int32, now time.Time) (int32, string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	up, down := desired, desired
	upCutoff := now.Add(-time.Duration(*b.ScaleUp.StabilizationWindowSeconds) * time.Second)
	downCutoff := now.Add(-time.Duration(*b.ScaleDown.StabilizationWindowSeconds) * time.Second)
	old, oldIdx := false, 0
	for i, r := range h.recommendations[key] {
		if r.at.After(upCutoff) {
			up = min(r.replicas, up)
		}
		if r.at.After(downCutoff) {
			down = max(r.replicas, down)
		}
		if r.at.Before(upCutoff) && r.at.Before(downCutoff) {
			old, oldIdx = true, i
		}
	}
	rec := current
	if rec < up {
		rec = up
	}
	if rec > down {
		rec = down
	}
	if old {
		h.recommendations[key][oldIdx] = recommendation{desired, now}
	} else {
		h.recommendations[key] = append(h.recommendations[key], recommendation{desired, now})
	}
	if desired >= current {
		return rec, "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"
	}
	return rec, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
}

// limitWithBehavior is convertDesiredReplicasWithBehaviorRate.
func (h *history) limitWithBehavior(key string, b *autoscalingv2.HorizontalPodAutoscalerBehavior, current, desired, minReplicas, maxReplicas int32, now time.Time) (int32, string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case desired > current:
		limit := max(scaleUpLimit(current, h.scaleUps[key], h.scaleDowns[key], b.ScaleUp, now), current)
		maxAllowed, reason, msg := maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
		if maxAllowed > limit {
			maxAllowed, reason, msg = limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
		}
		if desired > maxAllowed {
			return maxAllowed, reason, msg
		}
	case desired < current:
		limit := min(scaleDownLimit(current, h.scaleUps[key], h.scaleDowns[key], b.ScaleDown, now), current)
		minAllowed, reason, msg := minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
		if minAllowed < limit {
			minAllowed, reason, msg = limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
		}
		if desired < minAllowed {
			return minAllowed, reason, msg
		}
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// scaleUpLimit is calculateScaleUpLimitWithScalingRules.
func scaleUpLimit(current int32, ups, downs []scaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	var result int32
	pick := larger
	switch policySelect(rules) {
	case autoscalingv2.DisabledPolicySelect:
		return current
	case autoscalingv2.MinChangePolicySelect:
		result, pick = math.MaxInt32, smaller
	default:
		result = math.MinInt32
	}
	for _, p := range rules.Policies {
		start := current - changeIn(p.PeriodSeconds, ups, now) + changeIn(p.PeriodSeconds, downs, now)
		var proposed int32
		switch p.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = start + p.Value
		case autoscalingv2.PercentScalingPolicy:
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

// scaleDownLimit is calculateScaleDownLimitWithBehaviors.
func scaleDownLimit(current int32, ups, downs []scaleEvent, rules *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	var result int32
	pick := smaller
	switch policySelect(rules) {
	case autoscalingv2.DisabledPolicySelect:
		return current
	case autoscalingv2.MinChangePolicySelect:
		result, pick = math.MinInt32, larger
	default:
		result = math.MaxInt32
	}
	for _, p := range rules.Policies {
		start := current - changeIn(p.PeriodSeconds, ups, now) + changeIn(p.PeriodSeconds, downs, now)
		var proposed int32
		switch p.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = start - p.Value
		case autoscalingv2.PercentScalingPolicy:
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		result = pick(result, proposed)
	}
	return result
}

func policySelect(r *autoscalingv2.HPAScalingRules) autoscalingv2.ScalingPolicySelect {
	if r.SelectPolicy == nil {
		return autoscalingv2.MaxChangePolicySelect
	}
	return *r.SelectPolicy
}

// changeIn sums the changes of the events within the last period.
func changeIn(periodSeconds int32, events []scaleEvent, now time.Time) int32 {
	cutoff := now.Add(-time.Duration(periodSeconds) * time.Second)
	var n int32
	for _, e := range events {
		if e.at.After(cutoff) {
			n += e.change
		}
	}
	return n
}

// recordScale is storeScaleEvent: with a behaviour, remember a rescale for the policies'
// periods (reusing an event older than the longest period).
func (h *history) recordScale(b *autoscalingv2.HorizontalPodAutoscalerBehavior, key string, prev, next int32, now time.Time) {
	if b == nil || prev == next {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	events, rules, change := h.scaleUps, b.ScaleUp, next-prev
	if next < prev {
		events, rules, change = h.scaleDowns, b.ScaleDown, prev-next
	}
	var longest int32
	if rules != nil {
		for _, p := range rules.Policies {
			longest = max(longest, p.PeriodSeconds)
		}
	}
	cutoff := now.Add(-time.Duration(longest) * time.Second)
	list := events[key]
	e := scaleEvent{change: change, at: now}
	for i := range list {
		if list[i].at.Before(cutoff) {
			list[i] = e
			return
		}
	}
	events[key] = append(list, e)
}

func larger(a, b int32) int32  { return max(a, b) }
func smaller(a, b int32) int32 { return min(a, b) }
