package resourcemetrics

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// PodMetrics returns pod's metrics (labels copied from the pod, as metrics-server does), or
// false when there are none yet: the pod is not on a scraped node, or none of its containers
// has two usable samples.
func (c *Collector) PodMetrics(pod *corev1.Pod) (*metricsv1beta1.PodMetrics, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st := c.nodes[pod.Spec.NodeName]
	if st == nil || pod.Spec.NodeName == "" {
		return nil, false
	}
	out := &metricsv1beta1.PodMetrics{ObjectMeta: objectMeta(pod.ObjectMeta)}
	out.Namespace = pod.Namespace
	var latest time.Time
	var window time.Duration
	for k, last := range st.last.containers {
		if k.namespace != pod.Namespace || k.pod != pod.Name {
			continue
		}
		var prev *point
		if st.prev != nil {
			if p, ok := st.prev.containers[k]; ok {
				prev = &p
			}
		}
		cores, win, ok := rate(prev, last, prevScrapeTime(st))
		if !ok {
			continue
		}
		out.Containers = append(out.Containers, metricsv1beta1.ContainerMetrics{Name: k.container, Usage: usage(cores, last.mem)})
		if last.at.After(latest) {
			latest, window = last.at, win
		}
	}
	if len(out.Containers) == 0 {
		return nil, false
	}
	sort.Slice(out.Containers, func(i, j int) bool { return out.Containers[i].Name < out.Containers[j].Name })
	out.Timestamp, out.Window = metav1.NewTime(latest), metav1.Duration{Duration: window}
	return out, true
}

// NodeMetrics returns node's metrics (labels copied from the node), or false before two
// scrapes of it have succeeded.
func (c *Collector) NodeMetrics(node *corev1.Node) (*metricsv1beta1.NodeMetrics, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st := c.nodes[node.Name]
	if st == nil || st.prev == nil {
		return nil, false
	}
	cores, win, ok := rate(&st.prev.node, st.last.node, time.Time{})
	if !ok {
		return nil, false
	}
	return &metricsv1beta1.NodeMetrics{ObjectMeta: objectMeta(node.ObjectMeta),
		Timestamp: metav1.NewTime(st.last.node.at), Window: metav1.Duration{Duration: win},
		Usage: usage(cores, st.last.node.mem)}, true
}

func prevScrapeTime(st *nodeState) time.Time {
	if st.prev == nil {
		return time.Time{}
	}
	return st.prev.node.at
}

// rate is the CPU rate (nanocores) between prev and last and the window. Without a usable
// prev (none, another start, a counter that went down), a container that started after the
// previous scrape (since) is measured from its start, as metrics-server does.
func rate(prev *point, last point, since time.Time) (nanocores uint64, window time.Duration, ok bool) {
	usable := prev != nil && prev.start.Equal(last.start) && last.cpu >= prev.cpu && last.at.After(prev.at)
	switch {
	case usable:
		window = last.at.Sub(prev.at)
		return uint64(float64(last.cpu-prev.cpu) / window.Seconds()), window, true
	case !since.IsZero() && !last.start.IsZero() && last.start.After(since) && last.at.After(last.start):
		window = last.at.Sub(last.start)
		return uint64(float64(last.cpu) / window.Seconds()), window, true
	}
	return 0, 0, false
}

// usage is a ResourceList as metrics-server writes it: CPU in nanocores, memory in bytes.
func usage(nanocores, mem uint64) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewScaledQuantity(int64(nanocores), -9),
		corev1.ResourceMemory: *resource.NewQuantity(int64(mem), resource.BinarySI),
	}
}

// objectMeta is the metadata of a metrics object for the object m: its name, namespace and
// labels, created now (metrics-server sets the creation time to the answer's time).
func objectMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	labels := make(map[string]string, len(m.Labels))
	for k, v := range m.Labels {
		labels[k] = v
	}
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, Labels: labels, CreationTimestamp: metav1.NewTime(time.Now())}
}
