package podautoscaler

import (
	"errors"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Kubernetes' defaults for the calculation (kube-controller-manager flags
// --horizontal-pod-autoscaler-tolerance, -cpu-initialization-period and
// -initial-readiness-delay).
const (
	defaultTolerance               = 0.1
	defaultCPUInitializationPeriod = 5 * time.Minute
	defaultInitialReadinessDelay   = 30 * time.Second
)

// podMetric is one pod's usage of a resource, in milli-units, as the resource metrics API
// reported it.
type podMetric struct {
	timestamp time.Time
	window    time.Duration
	value     int64
}

// podMetrics are usages by pod name.
type podMetrics map[string]podMetric

// calculator is Kubernetes' ReplicaCalculator for resource metrics: pure, over the pods the
// target's selector matches and their metrics.
type calculator struct {
	tolerance               float64
	cpuInitializationPeriod time.Duration
	initialReadinessDelay   time.Duration
	now                     time.Time
}

// resourceReplicas is GetResourceReplicas: the replica count for a target utilization
// (percent of the pods' requests), the current utilization and average raw value.
func (c calculator) resourceReplicas(current int32, targetUtilization int32, resource corev1.ResourceName,
	pods []*corev1.Pod, metrics podMetrics) (replicas int32, utilization int32, raw int64, err error) {
	if len(pods) == 0 {
		return 0, 0, 0, errors.New("no pods returned by selector while calculating replica count")
	}
	ready, unready, missing, ignored := c.groupPods(pods, metrics, resource)
	removeMetrics(metrics, ignored)
	removeMetrics(metrics, unready)
	requests, err := podRequests(pods, resource)
	if err != nil {
		return 0, 0, 0, err
	}
	if len(metrics) == 0 {
		return 0, 0, 0, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	ratio, utilization, raw, err := utilizationRatio(metrics, requests, targetUtilization)
	if err != nil {
		return 0, 0, 0, err
	}
	scaleUpWithUnready := len(unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if math.Abs(1.0-ratio) <= c.tolerance {
			return current, utilization, raw, nil
		}
		return int32(math.Ceil(ratio * float64(ready))), utilization, raw, nil
	}
	if len(missing) > 0 {
		if ratio < 1.0 {
			// on a scale-down, missing pods use 100 % of their request (or the target, above 100 %)
			fallback := int64(max(100, targetUtilization))
			for name := range missing {
				metrics[name] = podMetric{value: requests[name] * fallback / 100}
			}
		} else if ratio > 1.0 {
			for name := range missing { // on a scale-up, they use nothing
				metrics[name] = podMetric{}
			}
		}
	}
	if scaleUpWithUnready {
		for name := range unready {
			metrics[name] = podMetric{}
		}
	}
	newRatio, _, _, err := utilizationRatio(metrics, requests, targetUtilization)
	if err != nil {
		return 0, utilization, raw, err
	}
	return c.settle(current, ratio, newRatio, len(metrics)), utilization, raw, nil
}

// plainReplicas is calcPlainMetricReplicas: the replica count for a target average value
// (milli-units per pod) and the current average.
func (c calculator) plainReplicas(current int32, target int64, resource corev1.ResourceName,
	pods []*corev1.Pod, metrics podMetrics) (replicas int32, usage int64, err error) {
	if len(pods) == 0 {
		return 0, 0, errors.New("no pods returned by selector while calculating replica count")
	}
	ready, unready, missing, ignored := c.groupPods(pods, metrics, resource)
	removeMetrics(metrics, ignored)
	removeMetrics(metrics, unready)
	if len(metrics) == 0 {
		return 0, 0, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	ratio, usage := usageRatio(metrics, target)
	scaleUpWithUnready := len(unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if math.Abs(1.0-ratio) <= c.tolerance {
			return current, usage, nil
		}
		return int32(math.Ceil(ratio * float64(ready))), usage, nil
	}
	if len(missing) > 0 {
		if ratio < 1.0 {
			for name := range missing {
				metrics[name] = podMetric{value: target}
			}
		} else {
			for name := range missing {
				metrics[name] = podMetric{}
			}
		}
	}
	if scaleUpWithUnready {
		for name := range unready {
			metrics[name] = podMetric{}
		}
	}
	newRatio, _ := usageRatio(metrics, target)
	return c.settle(current, ratio, newRatio, len(metrics)), usage, nil
}

// settle is the end of both calculations once missing and unready pods were filled in: keep
// the current count when the change is within the tolerance or would reverse the direction.
func (c calculator) settle(current int32, ratio, newRatio float64, n int) int32 {
	if math.Abs(1.0-newRatio) <= c.tolerance || (ratio < 1.0 && newRatio > 1.0) || (ratio > 1.0 && newRatio < 1.0) {
		return current
	}
	replicas := int32(math.Ceil(newRatio * float64(n)))
	if (newRatio < 1.0 && replicas > current) || (newRatio > 1.0 && replicas < current) {
		return current
	}
	return replicas
}

// groupPods sorts the pods as Kubernetes does: deleted and failed pods are ignored; pending
// pods, and for CPU pods not ready yet (or whose metric predates their readiness within the
// initialization period) are unready; pods without a metric are missing.
func (c calculator) groupPods(pods []*corev1.Pod, metrics podMetrics, resource corev1.ResourceName) (ready int, unready, missing, ignored sets.Set[string]) {
	unready, missing, ignored = sets.New[string](), sets.New[string](), sets.New[string]()
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed {
			ignored.Insert(pod.Name)
			continue
		}
		if pod.Status.Phase == corev1.PodPending {
			unready.Insert(pod.Name)
			continue
		}
		metric, found := metrics[pod.Name]
		if !found {
			missing.Insert(pod.Name)
			continue
		}
		if resource == corev1.ResourceCPU && c.cpuUnready(pod, metric) {
			unready.Insert(pod.Name)
			continue
		}
		ready++
	}
	return ready, unready, missing, ignored
}

// cpuUnready: within the CPU initialization period a pod counts once ready and measured for a
// whole window since; after it, a pod that never became ready does not count.
func (c calculator) cpuUnready(pod *corev1.Pod, metric podMetric) bool {
	cond := readyCondition(pod)
	if cond == nil || pod.Status.StartTime == nil {
		return true
	}
	if pod.Status.StartTime.Add(c.cpuInitializationPeriod).After(c.now) {
		return cond.Status == corev1.ConditionFalse || metric.timestamp.Before(cond.LastTransitionTime.Add(metric.window))
	}
	return cond.Status == corev1.ConditionFalse && pod.Status.StartTime.Add(c.initialReadinessDelay).After(cond.LastTransitionTime.Time)
}

func readyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// podRequests sums each pod's container requests of resource (milli-units), with restartable
// init containers (sidecars); a container without a request is an error.
func podRequests(pods []*corev1.Pod, resource corev1.ResourceName) (map[string]int64, error) {
	requests := make(map[string]int64, len(pods))
	for _, pod := range pods {
		var sum int64
		containers := append([]corev1.Container(nil), pod.Spec.Containers...)
		for _, ic := range pod.Spec.InitContainers {
			if ic.RestartPolicy != nil && *ic.RestartPolicy == corev1.ContainerRestartPolicyAlways {
				containers = append(containers, ic)
			}
		}
		for _, ctr := range containers {
			req, ok := ctr.Resources.Requests[resource]
			if !ok {
				return nil, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, ctr.Name, pod.Name)
			}
			sum += req.MilliValue()
		}
		requests[pod.Name] = sum
	}
	return requests, nil
}

// utilizationRatio is GetResourceUtilizationRatio: the usage over the requests of the pods
// with metrics, as a percentage, its ratio to the target and the average raw usage.
func utilizationRatio(metrics podMetrics, requests map[string]int64, target int32) (ratio float64, utilization int32, raw int64, err error) {
	var total, requested int64
	n := 0
	for name, m := range metrics {
		req, ok := requests[name]
		if !ok {
			continue
		}
		total += m.value
		requested += req
		n++
	}
	if requested == 0 {
		return 0, 0, 0, errors.New("no metrics returned matched known pods")
	}
	utilization = int32(total * 100 / requested)
	return float64(utilization) / float64(target), utilization, total / int64(n), nil
}

// usageRatio is GetMetricUsageRatio: the average usage and its ratio to the target.
func usageRatio(metrics podMetrics, target int64) (float64, int64) {
	var total int64
	for _, m := range metrics {
		total += m.value
	}
	usage := total / int64(len(metrics))
	return float64(usage) / float64(target), usage
}

func removeMetrics(metrics podMetrics, names sets.Set[string]) {
	for name := range names {
		delete(metrics, name)
	}
}
