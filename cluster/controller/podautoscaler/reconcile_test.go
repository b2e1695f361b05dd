package podautoscaler

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/controllertest"
)

// fixture is the controller over a fake clientset with an RC "web" of scale 2 (selector
// app=web), its pods, and a fake metrics API.
type fixture struct {
	*controllertest.Fixture[*Controller]
	scale *autoscalingv1.Scale
}

func newFixture(t *testing.T, hpa *autoscalingv2.HorizontalPodAutoscaler, usage map[string]int64, pods ...*corev1.Pod) *fixture {
	var objs []runtime.Object
	var ms []metricsv1beta1.PodMetrics
	for _, p := range pods {
		p.Namespace, p.Labels = "default", map[string]string{"app": "web"}
		objs = append(objs, p)
	}
	for name, milli := range usage {
		ms = append(ms, metricsv1beta1.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
			Timestamp: metav1.NewTime(now.Add(-time.Second)), Window: metav1.Duration{Duration: 15 * time.Second},
			Containers: []metricsv1beta1.ContainerMetrics{{Name: "c", Usage: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(milli, resource.DecimalSI)}}}})
	}
	f := controllertest.NewFake(now, 100, append(objs, hpa)...)
	mc := metricsfake.NewSimpleClientset()
	// The fake's tracker files PodMetrics under "podmetricses", not "pods": answer lists here.
	mc.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sel := a.(k8stesting.ListAction).GetListRestrictions().Labels
		list := &metricsv1beta1.PodMetricsList{}
		for _, m := range ms {
			if sel.Matches(labels.Set(m.Labels)) {
				list.Items = append(list.Items, m)
			}
		}
		return true, list, nil
	})
	x := &fixture{scale: &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: autoscalingv1.ScaleSpec{Replicas: 2}, Status: autoscalingv1.ScaleStatus{Replicas: 2, Selector: "app=web"}}}
	f.Client.PrependReactor("*", "replicationcontrollers", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		if u, ok := a.(k8stesting.UpdateAction); ok {
			x.scale = u.GetObject().(*autoscalingv1.Scale).DeepCopy()
		}
		return true, x.scale.DeepCopy(), nil
	})
	x.Fixture = controllertest.NewFixture(t, f, func(cc controller.Context) (*Controller, error) {
		cc.Metrics = mc.MetricsV1beta1()
		return New(cc)
	}, append(objs, hpa)...)
	return x
}

func webHPA(kind string) *autoscalingv2.HorizontalPodAutoscaler {
	one, fifty := int32(1), int32(50)
	return &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &one, MaxReplicas: 5,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "v1", Kind: kind, Name: "web"},
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &fifty}}}}}}
}

// TestReconcileRescales: two pods at 80 % of their 500m requests against a 50 % target: the
// scale goes to 4, with the upstream event, status and conditions.
func TestReconcileRescales(t *testing.T) {
	x := newFixture(t, webHPA("ReplicationController"), map[string]int64{"a": 400, "b": 400}, pod("a", 500, 0), pod("b", 500, 0))
	actions := x.Actions("sync", func(ctx context.Context) error { _, err := x.C.sync(ctx, "default/web"); return err })
	if x.scale.Spec.Replicas != 4 {
		t.Fatalf("scale = %d, want 4", x.scale.Spec.Replicas)
	}
	st, ok := controllertest.LastStatus[*autoscalingv2.HorizontalPodAutoscaler](actions)
	if !ok {
		t.Fatal("no status written")
	}
	if st.Status.CurrentReplicas != 2 || st.Status.DesiredReplicas != 4 || st.Status.LastScaleTime == nil ||
		*st.Status.CurrentMetrics[0].Resource.Current.AverageUtilization != 80 || st.Status.CurrentMetrics[0].Resource.Current.AverageValue.MilliValue() != 400 {
		t.Errorf("status %+v", st.Status)
	}
	for c, want := range map[string]string{"AbleToScale": "True/SucceededRescale", "ScalingActive": "True/ValidMetricFound", "ScalingLimited": "False/DesiredWithinRange"} {
		if got := cond(st, c); got != want {
			t.Errorf("%s = %s, want %s", c, got, want)
		}
	}
	want := "Normal SuccessfulRescale New size: 4; reason: cpu resource utilization (percentage of request) above target"
	if evs := x.Events(); !slices.Contains(evs, want) {
		t.Errorf("events %q, want %q", evs, want)
	}
}

// TestReconcileFailures: an unknown target kind and a target without metrics give upstream's
// conditions and warning events, and nothing is scaled.
func TestReconcileFailures(t *testing.T) {
	x := newFixture(t, webHPA("Widget"), nil, pod("a", 500, 0))
	if _, err := x.C.sync(t.Context(), "default/web"); err == nil {
		t.Fatal("sync of an HPA with an unknown target kind succeeded")
	}
	st, _ := controllertest.LastStatus[*autoscalingv2.HorizontalPodAutoscaler](x.Client.Actions())
	if st == nil || cond(st, "AbleToScale") != "False/FailedGetScale" {
		t.Errorf("status %+v, want AbleToScale False/FailedGetScale", st)
	}
	if evs := x.Events(); len(evs) == 0 || !strings.HasPrefix(evs[0], "Warning FailedGetScale ") {
		t.Errorf("events %q, want a FailedGetScale warning", evs)
	}

	y := newFixture(t, webHPA("ReplicationController"), nil, pod("a", 500, 0))
	if _, err := y.C.sync(t.Context(), "default/web"); err == nil {
		t.Fatal("sync without metrics succeeded")
	}
	st, _ = controllertest.LastStatus[*autoscalingv2.HorizontalPodAutoscaler](y.Client.Actions())
	if st == nil || cond(st, "ScalingActive") != "False/FailedGetResourceMetric" || cond(st, "AbleToScale") != "True/SucceededGetScale" {
		t.Errorf("status %+v, want ScalingActive False/FailedGetResourceMetric", st)
	}
	evs := y.Events()
	if !slices.ContainsFunc(evs, func(e string) bool {
		return strings.HasPrefix(e, "Warning FailedGetResourceMetric failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API")
	}) || !slices.ContainsFunc(evs, func(e string) bool { return strings.HasPrefix(e, "Warning FailedComputeMetricsReplicas ") }) {
		t.Errorf("events %q", evs)
	}
	if y.scale.Spec.Replicas != 2 {
		t.Errorf("scaled to %d without metrics", y.scale.Spec.Replicas)
	}
}
