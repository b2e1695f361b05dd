package podautoscaler

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/container/hollow"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/deployment"
	"github.com/drover-ci/drover/cluster/controller/replication"
	"github.com/drover-ci/drover/cluster/controller/statefulset"
	"github.com/drover-ci/drover/cluster/nodeagent"
	"github.com/drover-ci/drover/cluster/scheduler"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestHollowAutoscaling: the real API server with its metrics collector, two hollow nodes
// whose containers all use load millicores (the test sets it), and the workload controllers,
// scheduler and autoscaler: a ReplicationController (a Deployment, a StatefulSet) of one pod requesting
// 200m with an HPA (cpu 50 %, 1–4, scale-down window 2 s) scales out to 4 under 400m a pod,
// reports status and events, and back in to 1 once the load drops.
func TestHollowAutoscaling(t *testing.T) {
	for _, kind := range []string{"ReplicationController", "Deployment", "StatefulSet"} {
		t.Run(kind, func(t *testing.T) { testHollowAutoscaling(t, kind) })
	}
}

func testHollowAutoscaling(t *testing.T, kind string) {
	var load atomic.Int64 // millicores per container
	load.Store(400)
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{MetricResolution: 300 * time.Millisecond})
	client, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := metricsclient.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for i := 0; i < 2; i++ {
		rt := hollow.New(hollow.Options{Usage: func(container.Container) (hollow.Usage, bool) {
			return hollow.Usage{NanoCores: uint64(load.Load()) * 1e6, MemoryBytes: 32 << 20}, true
		}})
		a, err := nodeagent.New(nodeagent.Config{NodeName: fmt.Sprintf("hollow-%d", i), Client: client, Runtime: rt, Probes: rt.Prober(),
			NodeIP: "127.0.0.1", Port: freePort(t), Logger: logtest.New(t),
			TLS: nodeagent.ServerTLS{ClientCA: srv.PKI.CAPool(), Issue: srv.PKI.IssueServing}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = a.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	hpaCtl := runControllers(t, ctx, cancel, client, mc)
	hpaCtl.period = time.Second

	one, window := int32(1), int32(2)
	labels := map[string]string{"app": "burn"}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "app", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}}}}}}
	ref := autoscalingv2.CrossVersionObjectReference{APIVersion: "v1", Kind: kind, Name: "burn"}
	switch kind {
	case "Deployment":
		ref.APIVersion = "apps/v1"
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "burn"}, Spec: appsv1.DeploymentSpec{
			Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}
		if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	case "StatefulSet":
		ref.APIVersion = "apps/v1"
		ss := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "burn"}, Spec: appsv1.StatefulSetSpec{ServiceName: "burn",
			Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}
		if _, err := client.AppsV1().StatefulSets("default").Create(ctx, ss, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	default:
		rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "burn"}, Spec: corev1.ReplicationControllerSpec{
			Replicas: &one, Selector: labels, Template: &tmpl}}
		if _, err := client.CoreV1().ReplicationControllers("default").Create(ctx, rc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	replicas := func() int32 { return targetReplicas(t, client, kind) }
	fifty := int32(50)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "burn"}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: ref,
		MinReplicas:    &one, MaxReplicas: 4,
		Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &fifty}}}},
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &window}},
	}}
	if _, err := client.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func() *autoscalingv2.HorizontalPodAutoscaler {
		h, err := client.AutoscalingV2().HorizontalPodAutoscalers("default").Get(ctx, "burn", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	uptest.Eventually(t, time.Minute, "the RC scaled out to 4 and the HPA reporting it", func() bool {
		h := get()
		return h.Status.DesiredReplicas == 4 && h.Status.CurrentReplicas == 4 && replicas() == 4
	})
	h := get()
	if len(h.Status.CurrentMetrics) != 1 || h.Status.CurrentMetrics[0].Resource.Current.AverageUtilization == nil ||
		*h.Status.CurrentMetrics[0].Resource.Current.AverageUtilization < 100 || h.Status.LastScaleTime == nil {
		t.Errorf("status after scaling out: %+v", h.Status)
	}
	for _, c := range []string{"AbleToScale", "ScalingActive", "ScalingLimited"} {
		if cond(h, c) == "" {
			t.Errorf("no %s condition: %+v", c, h.Status.Conditions)
		}
	}
	if got := cond(h, "ScalingActive"); got != "True/ValidMetricFound" {
		t.Errorf("ScalingActive = %s", got)
	}
	uptest.Eventually(t, 30*time.Second, "a SuccessfulRescale event", func() bool {
		return hasEvent(t, client, "SuccessfulRescale", "New size: 4; reason: cpu resource utilization (percentage of request) above target")
	})

	load.Store(10)
	uptest.Eventually(t, time.Minute, "the RC scaled back in to 1", func() bool {
		h := get()
		return h.Status.DesiredReplicas == 1 && replicas() == 1
	})
	if !hasEvent(t, client, "SuccessfulRescale", "New size: 1; reason: All metrics below target") {
		t.Errorf("no scale-in event")
	}
}

func cond(h *autoscalingv2.HorizontalPodAutoscaler, t string) string {
	for _, c := range h.Status.Conditions {
		if string(c.Type) == t {
			return string(c.Status) + "/" + c.Reason
		}
	}
	return ""
}

// targetReplicas is the spec.replicas of the RC or Deployment "burn".
func targetReplicas(t *testing.T, client kubernetes.Interface, kind string) int32 {
	ctx := context.Background()
	switch kind {
	case "Deployment":
		d, err := client.AppsV1().Deployments("default").Get(ctx, "burn", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *d.Spec.Replicas
	case "StatefulSet":
		ss, err := client.AppsV1().StatefulSets("default").Get(ctx, "burn", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *ss.Spec.Replicas
	}
	rc, err := client.CoreV1().ReplicationControllers("default").Get(ctx, "burn", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *rc.Spec.Replicas
}

func hasEvent(t *testing.T, client kubernetes.Interface, reason, message string) bool {
	evs, err := client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range evs.Items {
		if e.InvolvedObject.Kind == "HorizontalPodAutoscaler" && e.Reason == reason && e.Message == message {
			return true
		}
		seen = append(seen, e.Reason+": "+e.Message)
	}
	t.Logf("events: %s", strings.Join(seen, " | "))
	return false
}

// runControllers runs the RC, ReplicaSet, Deployment and StatefulSet controllers, the scheduler and the autoscaler against the
// server until ctx ends (cancel ends it when the test does), and returns the autoscaler.
func runControllers(t *testing.T, ctx context.Context, cancel context.CancelFunc, client kubernetes.Interface, mc metricsclient.Interface) *Controller {
	t.Helper()
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	t.Cleanup(bc.Shutdown)
	factory := informers.NewSharedInformerFactory(client, 0)
	cc := controller.Context{Client: client, Metrics: mc.MetricsV1beta1(), Informers: factory, Logger: logtest.New(t),
		Recorder: func(c string) record.EventRecorder {
			return bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: c})
		}}
	rcs, err := replication.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	rss, err := replication.NewReplicaSet(cc)
	if err != nil {
		t.Fatal(err)
	}
	deploys, err := deployment.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	sets, err := statefulset.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	sched, err := scheduler.NewController(cc)
	if err != nil {
		t.Fatal(err)
	}
	hpas, err := New(cc)
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(factory.Shutdown) // after the controllers returned (cleanups run last first)
	for _, c := range []controller.Controller{rcs, rss, deploys, sets, sched, hpas} {
		done := make(chan struct{})
		go func() { defer close(done); _ = c.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return hpas
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
