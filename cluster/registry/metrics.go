package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// ReadOnlyVerbs are the verbs of resources that are not stored: the API server computes them
// (metrics.k8s.io).
var ReadOnlyVerbs = []string{"get", "list"}

// MetricsGroup is the resource metrics API group (metrics-server's, here served by drover's
// API server from its own collector).
const MetricsGroup = "metrics.k8s.io"

// podMetricsResource describes metrics.k8s.io/v1beta1 pods (PodMetrics): not stored, get
// and list only.
func podMetricsResource() *Resource {
	return &Resource{
		Group: MetricsGroup, Version: "v1beta1", Resource: "pods", Kind: "PodMetrics", SingularName: "podmetrics",
		Namespaced: true, Verbs: ReadOnlyVerbs,
		New:     func() runtime.Object { return &metricsv1beta1.PodMetrics{} },
		NewList: func() runtime.Object { return &metricsv1beta1.PodMetricsList{} },
		Table:   metricsTable(),
	}
}

// nodeMetricsResource describes metrics.k8s.io/v1beta1 nodes (NodeMetrics).
func nodeMetricsResource() *Resource {
	return &Resource{
		Group: MetricsGroup, Version: "v1beta1", Resource: "nodes", Kind: "NodeMetrics", SingularName: "nodemetrics",
		Verbs:   ReadOnlyVerbs,
		New:     func() runtime.Object { return &metricsv1beta1.NodeMetrics{} },
		NewList: func() runtime.Object { return &metricsv1beta1.NodeMetricsList{} },
		Table:   metricsTable(),
	}
}

// metricsTable prints metrics as metrics-server does: NAME CPU MEMORY WINDOW (a pod's usage
// is the sum of its containers').
func metricsTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("CPU", "string", "CPU usage", 0),
			column("Memory", "string", "Memory usage", 0),
			column("Window", "string", "Metrics window", 0),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			var name string
			var window metav1.Duration
			usage := corev1.ResourceList{}
			switch m := obj.(type) {
			case *metricsv1beta1.PodMetrics:
				name, window = m.Name, m.Window
				for _, c := range m.Containers {
					for k, v := range c.Usage {
						sum := usage[k]
						sum.Add(v)
						usage[k] = sum
					}
				}
			case *metricsv1beta1.NodeMetrics:
				name, window, usage = m.Name, m.Window, m.Usage
			default:
				return nil, fmt.Errorf("metrics table: unexpected object %T", obj)
			}
			cpu, mem := usage[corev1.ResourceCPU], usage[corev1.ResourceMemory]
			return []interface{}{name, cpu.String(), mem.String(), window.Duration.String()}, nil
		},
	}
}
