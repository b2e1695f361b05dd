package podautoscaler

import (
	"context"
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

var metav1UpdateOptions = metav1.UpdateOptions{}

// reconcile is reconcileAutoscaler.
func (c *Controller) reconcile(ctx context.Context, key string, hpa *autoscalingv2.HorizontalPodAutoscaler) error {
	old := hpa.DeepCopy()
	now := c.clock.Now()
	ref := hpa.Spec.ScaleTargetRef
	reference := fmt.Sprintf("%s/%s/%s", ref.Kind, hpa.Namespace, ref.Name)

	scale, err := c.scales.get(ctx, hpa.Namespace, ref)
	if err != nil {
		c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedGetScale", err.Error())
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", fmt.Sprintf("the HPA controller was unable to get the target's current scale: %v", err), now)
		if uerr := c.updateStatus(ctx, old, hpa); uerr != nil {
			return uerr
		}
		return fmt.Errorf("failed to query scale subresource for %s: %w", reference, err)
	}
	setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale", now)
	current := scale.Spec.Replicas
	c.history.recordInitial(key, current, now)

	var (
		statuses     []autoscalingv2.MetricStatus
		desired      int32
		rescaleWhy   string
		minReplicas  = *hpa.Spec.MinReplicas
		rescale      bool
		metricResult int32
	)
	switch {
	case current == 0 && minReplicas != 0:
		desired = 0
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero", now)
	case current > hpa.Spec.MaxReplicas:
		rescaleWhy, desired = "Current number of replicas above Spec.MaxReplicas", hpa.Spec.MaxReplicas
	case current < minReplicas:
		rescaleWhy, desired = "Current number of replicas below Spec.MinReplicas", minReplicas
	default:
		var metricName string
		metricResult, metricName, statuses, err = c.computeReplicas(ctx, hpa, scale.Status.Selector, current, now)
		if err != nil && metricResult == -1 {
			hpa.Status.CurrentReplicas, hpa.Status.CurrentMetrics = current, statuses
			if uerr := c.updateStatus(ctx, old, hpa); uerr != nil {
				return uerr
			}
			c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedComputeMetricsReplicas", err.Error())
			return fmt.Errorf("failed to compute desired number of replicas based on listed metrics for %s: %w", reference, err)
		}
		if err != nil {
			c.log.Info("some metrics are invalid; scaling on the valid ones", "hpa", key, "err", err)
		}
		rescaleMetric := ""
		if metricResult > desired {
			desired, rescaleMetric = metricResult, metricName
		}
		if desired > current {
			rescaleWhy = fmt.Sprintf("%s above target", rescaleMetric)
		}
		if desired < current {
			rescaleWhy = "All metrics below target"
		}
		if hpa.Spec.Behavior == nil {
			desired = c.history.normalize(hpa, key, current, desired, minReplicas, now)
		} else {
			desired = c.history.normalizeWithBehavior(hpa, key, current, desired, minReplicas, now)
		}
	}
	rescale = desired != current && !(current == 0 && minReplicas != 0)

	if rescale {
		scale.Spec.Replicas = desired
		if err := c.scales.update(ctx, hpa.Namespace, ref, scale); err != nil {
			c.recorder.Eventf(hpa, corev1.EventTypeWarning, "FailedRescale", "New size: %d; reason: %s; error: %v", desired, rescaleWhy, err)
			setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedUpdateScale", fmt.Sprintf("the HPA controller was unable to update the target scale: %v", err), now)
			hpa.Status.CurrentReplicas, hpa.Status.CurrentMetrics = current, statuses
			if uerr := c.updateStatus(ctx, old, hpa); uerr != nil {
				return uerr
			}
			return fmt.Errorf("failed to rescale %s: %w", reference, err)
		}
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", fmt.Sprintf("the HPA controller was able to update the target scale to %d", desired), now)
		c.recorder.Eventf(hpa, corev1.EventTypeNormal, "SuccessfulRescale", "New size: %d; reason: %s", desired, rescaleWhy)
		c.history.recordScale(hpa.Spec.Behavior, key, current, desired, now)
		c.log.Info("successful rescale", "hpa", key, "from", current, "to", desired, "reason", rescaleWhy)
	} else {
		desired = current
	}
	hpa.Status.CurrentReplicas, hpa.Status.DesiredReplicas, hpa.Status.CurrentMetrics = current, desired, statuses
	if rescale {
		t := metav1.NewTime(now)
		hpa.Status.LastScaleTime = &t
	}
	return c.updateStatus(ctx, old, hpa)
}

// computeReplicas is computeReplicasForMetrics: the largest proposal of the valid metrics, or
// -1 when the metrics cannot be trusted.
func (c *Controller) computeReplicas(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, selectorText string,
	current int32, now time.Time) (int32, string, []autoscalingv2.MetricStatus, error) {
	if selectorText == "" {
		c.recorder.Event(hpa, corev1.EventTypeWarning, "SelectorRequired", "selector is required")
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", "the HPA target's scale is missing a selector", now)
		return -1, "", nil, fmt.Errorf("selector is required")
	}
	selector, err := labels.Parse(selectorText)
	if err != nil {
		msg := fmt.Sprintf("couldn't convert selector into a corresponding internal selector object: %v", err)
		c.recorder.Event(hpa, corev1.EventTypeWarning, "InvalidSelector", msg)
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", msg, now)
		return -1, "", nil, fmt.Errorf("%s", msg)
	}
	statuses := make([]autoscalingv2.MetricStatus, len(hpa.Spec.Metrics))
	var (
		replicas     int32
		name         string
		invalid      int
		firstErr     error
		invalidCond  [2]string // reason, message
		proposedName string
	)
	for i, spec := range hpa.Spec.Metrics {
		proposal, metricName, status, reason, err := c.computeMetric(ctx, hpa, spec, current, selector, now)
		if err != nil {
			if invalid == 0 {
				firstErr, invalidCond = err, [2]string{reason, fmt.Sprintf("the HPA was unable to compute the replica count: %v", err)}
			}
			invalid++
			continue
		}
		statuses[i] = status
		if replicas == 0 || proposal > replicas {
			replicas, name = proposal, metricName
		}
		proposedName = name
	}
	if invalid >= len(hpa.Spec.Metrics) || (invalid > 0 && replicas < current) {
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, invalidCond[0], invalidCond[1], now)
		return -1, "", statuses, fmt.Errorf("invalid metrics (%v invalid out of %v), first error is: %w", invalid, len(hpa.Spec.Metrics), firstErr)
	}
	setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound",
		fmt.Sprintf("the HPA was able to successfully calculate a replica count from %s", proposedName), now)
	var err2 error
	if invalid > 0 {
		err2 = fmt.Errorf("invalid metrics (%v invalid out of %v), first error is: %w", invalid, len(hpa.Spec.Metrics), firstErr)
	}
	return replicas, name, statuses, err2
}

// computeMetric computes one metric's proposal; only Resource metrics are served (drover has
// no custom or external metrics API).
func (c *Controller) computeMetric(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, spec autoscalingv2.MetricSpec,
	current int32, selector labels.Selector, now time.Time) (int32, string, autoscalingv2.MetricStatus, string, error) {
	if spec.Type != autoscalingv2.ResourceMetricSourceType || spec.Resource == nil {
		err := fmt.Errorf("unknown metric source type %q", spec.Type)
		c.recorder.Event(hpa, corev1.EventTypeWarning, "InvalidMetricSourceType", "the HPA was unable to compute the replica count: "+err.Error())
		return 0, "", autoscalingv2.MetricStatus{}, "InvalidMetricSourceType", err
	}
	replicas, status, name, err := c.resourceMetric(ctx, hpa.Namespace, spec.Resource, current, selector, now)
	if err != nil {
		err = fmt.Errorf("failed to get %s utilization: %w", spec.Resource.Name, err)
		c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedGetResourceMetric", err.Error())
		return 0, "", autoscalingv2.MetricStatus{}, "FailedGetResourceMetric", err
	}
	return replicas, name, status, "", nil
}
