package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// resourceMetric is computeStatusForResourceMetric: the proposal for a CPU or memory target,
// as an AverageValue or as a Utilization of the pods' requests.
func (c *Controller) resourceMetric(ctx context.Context, ns string, src *autoscalingv2.ResourceMetricSource, current int32,
	selector labels.Selector, now time.Time) (int32, autoscalingv2.MetricStatus, string, error) {
	metrics, err := c.podMetrics(ctx, ns, src.Name, selector)
	if err != nil {
		return 0, autoscalingv2.MetricStatus{}, "", fmt.Errorf("unable to get metrics for resource %s: %w", src.Name, err)
	}
	pods, err := c.pods.Pods(ns).List(selector)
	if err != nil {
		return 0, autoscalingv2.MetricStatus{}, "", fmt.Errorf("unable to get pods while calculating replica count: %w", err)
	}
	calc := c.calc
	calc.now = now
	status := autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricStatus{Name: src.Name}}
	if v := src.Target.AverageValue; v != nil {
		replicas, usage, err := calc.plainReplicas(current, v.MilliValue(), src.Name, pods, metrics)
		if err != nil {
			return 0, autoscalingv2.MetricStatus{}, "", err
		}
		status.Resource.Current = autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(usage, resource.DecimalSI)}
		return replicas, status, fmt.Sprintf("%s resource", src.Name), nil
	}
	if src.Target.AverageUtilization == nil {
		return 0, autoscalingv2.MetricStatus{}, "", errors.New("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set")
	}
	replicas, utilization, raw, err := calc.resourceReplicas(current, *src.Target.AverageUtilization, src.Name, pods, metrics)
	if err != nil {
		return 0, autoscalingv2.MetricStatus{}, "", err
	}
	status.Resource.Current = autoscalingv2.MetricValueStatus{AverageUtilization: &utilization,
		AverageValue: resource.NewMilliQuantity(raw, resource.DecimalSI)}
	return replicas, status, fmt.Sprintf("%s resource utilization (percentage of request)", src.Name), nil
}

// podMetrics is the resource metrics client's GetResourceMetric: each pod's summed usage of
// resource (pods lacking it in a container are left out).
func (c *Controller) podMetrics(ctx context.Context, ns string, res corev1.ResourceName, selector labels.Selector) (podMetrics, error) {
	if c.metrics == nil {
		return nil, errors.New("unable to fetch metrics from resource metrics API: no metrics client")
	}
	list, err := c.metrics.PodMetricses(ns).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, fmt.Errorf("unable to fetch metrics from resource metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, errors.New("no metrics returned from resource metrics API")
	}
	out := make(podMetrics, len(list.Items))
	for _, m := range list.Items {
		var sum int64
		missing := len(m.Containers) == 0
		for _, ctr := range m.Containers {
			v, ok := ctr.Usage[res]
			if !ok {
				missing = true
				break
			}
			sum += v.MilliValue()
		}
		if !missing {
			out[m.Name] = podMetric{timestamp: m.Timestamp.Time, window: m.Window.Duration, value: sum}
		}
	}
	return out, nil
}
