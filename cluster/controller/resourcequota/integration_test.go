package resourcequota_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/replication"
	"github.com/drover-ci/drover/cluster/controller/resourcequota"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

// cluster runs a real API server with the resource quota controller and the replication
// manager (events recorded through the API, as the controller manager does) until the test
// ends, and makes the namespace "team".
func cluster(t *testing.T) (*apiservertest.Server, kubernetes.Interface) {
	t.Helper()
	srv := apiservertest.Start(t)
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	bc := record.NewBroadcaster()
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	cc := controller.Context{Client: cs, Informers: factory, Logger: logtest.New(t),
		Recorder: func(component string) record.EventRecorder {
			return bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
		}}
	rq, err := resourcequota.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := replication.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait(); factory.Shutdown(); bc.Shutdown() })
	factory.Start(ctx.Done())
	for _, c := range []controller.Controller{rq, rm} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(ctx) }()
	}
	if _, err := cs.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "the default ServiceAccount in team", func() bool {
		_, err := cs.CoreV1().ServiceAccounts("team").Get(t.Context(), "default", metav1.GetOptions{})
		return err == nil
	})
	return srv, cs
}

// makeQuota creates a quota in team and waits for the controller to fill its status.
func makeQuota(t *testing.T, cs kubernetes.Interface, name string, hard corev1.ResourceList) {
	t.Helper()
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	if _, err := cs.CoreV1().ResourceQuotas("team").Create(t.Context(), q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "quota status filled", func() bool {
		q, err := cs.CoreV1().ResourceQuotas("team").Get(t.Context(), name, metav1.GetOptions{})
		return err == nil && len(q.Status.Hard) == len(hard) && len(q.Status.Used) == len(hard)
	})
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
}

// usedPods is status.used["pods"] of quota name.
func usedPods(t *testing.T, cs kubernetes.Interface, name string) int64 {
	t.Helper()
	q, err := cs.CoreV1().ResourceQuotas("team").Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := q.Status.Used[corev1.ResourcePods]
	return n.Value()
}

func TestQuotaPodsRefusesTheFourthAndFollowsDeletes(t *testing.T) {
	_, cs := cluster(t)
	ctx := t.Context()
	makeQuota(t, cs, "pods", corev1.ResourceList{corev1.ResourcePods: resource.MustParse("3")})
	pods := cs.CoreV1().Pods("team")
	for i := 1; i <= 3; i++ {
		if _, err := pods.Create(ctx, pod(fmt.Sprintf("p%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatalf("pod %d: %v", i, err)
		}
		if got := usedPods(t, cs, "pods"); got != int64(i) {
			t.Errorf("after pod %d status.used.pods = %d", i, got)
		}
	}
	_, err := pods.Create(ctx, pod("p4"), metav1.CreateOptions{})
	want := `pods "p4" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=3, limited: pods=3`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("4th pod: %v, want 403 %q", err, want)
	}
	// A dry run is checked too and charges nothing.
	if _, err := pods.Create(ctx, pod("p5"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsForbidden(err) {
		t.Errorf("dry-run 4th pod: %v, want 403", err)
	}

	// A deleted pod gives its share back (the controller), and then a new one fits.
	t.Cleanup(func() { dumpOnFailure(t, cs) })
	if err := pods.Delete(ctx, "p1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "used pods back to 2", func() bool { return usedPods(t, cs, "pods") == 2 })
	if _, err := pods.Create(ctx, pod("p4"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("pod after a delete: %v", err)
	}
	// A finished pod no longer counts.
	p2, err := pods.Get(ctx, "p2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p2.Status.Phase = corev1.PodSucceeded
	if _, err := pods.UpdateStatus(ctx, p2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "a finished pod released", func() bool { return usedPods(t, cs, "pods") == 2 })
	q, err := cs.CoreV1().ResourceQuotas("team").Get(ctx, "pods", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := q.Status.Hard[corev1.ResourcePods]; h.Value() != 3 {
		t.Errorf("status.hard = %v", q.Status.Hard)
	}
}

func TestQuotaStopsReplicationControllerAtThree(t *testing.T) {
	_, cs := cluster(t)
	ctx := t.Context()
	makeQuota(t, cs, "pods", corev1.ResourceList{corev1.ResourcePods: resource.MustParse("3")})
	replicas := int32(5)
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ReplicationControllerSpec{Replicas: &replicas, Selector: map[string]string{"app": "web"},
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: pod("x").Spec}}}
	if _, err := cs.CoreV1().ReplicationControllers("team").Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var event corev1.Event
	uptest.Eventually(t, 30*time.Second, "a FailedCreate event for the RC", func() bool {
		evs, err := cs.CoreV1().Events("team").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		for _, e := range evs.Items {
			if e.Reason == "FailedCreate" && e.InvolvedObject.Name == "web" {
				event = e
				return true
			}
		}
		return false
	})
	if event.Type != corev1.EventTypeWarning || !strings.HasPrefix(event.Message, "Error creating: pods ") ||
		!strings.HasSuffix(event.Message, "is forbidden: exceeded quota: pods, requested: pods=1, used: pods=3, limited: pods=3") {
		t.Errorf("event = %s %s %q", event.Type, event.Reason, event.Message)
	}
	list, err := cs.CoreV1().Pods("team").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 3 {
		t.Errorf("%d pods, want 3", len(list.Items))
	}
	uptest.Eventually(t, 20*time.Second, "the RC reports ReplicaFailure", func() bool {
		rc, err := cs.CoreV1().ReplicationControllers("team").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && rc.Status.Replicas == 3 && len(rc.Status.Conditions) == 1 && rc.Status.Conditions[0].Reason == "FailedCreate"
	})
}

func TestQuotaConcurrentCreatesNeverExceed(t *testing.T) {
	_, cs := cluster(t)
	ctx := t.Context()
	makeQuota(t, cs, "pods", corev1.ResourceList{corev1.ResourcePods: resource.MustParse("5"),
		corev1.ResourceConfigMaps: resource.MustParse("4"), "count/configmaps": resource.MustParse("6")})
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, refused, cms := 0, 0, 0
	for i := 0; i < 24; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := cs.CoreV1().Pods("team").Create(ctx, pod(fmt.Sprintf("c%d", i)), metav1.CreateOptions{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota: pods"):
				refused++
			default:
				t.Errorf("pod c%d: %v", i, err)
			}
		}()
		go func() {
			defer wg.Done()
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm%d", i)}}
			_, err := cs.CoreV1().ConfigMaps("team").Create(ctx, cm, metav1.CreateOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				cms++
			}
		}()
	}
	wg.Wait()
	list, err := cs.CoreV1().Pods("team").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created != 5 || refused != 19 || len(list.Items) != 5 {
		t.Errorf("created %d, refused %d, %d pods stored; want 5, 19, 5", created, refused, len(list.Items))
	}
	// configmaps: 4 (kube-root-ca.crt is one of them, made by its controller).
	cmList, err := cs.CoreV1().ConfigMaps("team").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmList.Items) > 4 {
		t.Errorf("%d config maps stored (%d created here), quota configmaps: 4", len(cmList.Items), cms)
	}
	if got := usedPods(t, cs, "pods"); got != 5 {
		t.Errorf("status.used.pods = %d, want 5", got)
	}
}

func TestQuotaComputeResourcesMustBeSpecified(t *testing.T) {
	_, cs := cluster(t)
	ctx := t.Context()
	makeQuota(t, cs, "compute", corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("1"),
		corev1.ResourceRequestsMemory: resource.MustParse("1Gi")})
	_, err := cs.CoreV1().Pods("team").Create(ctx, pod("bare"), metav1.CreateOptions{})
	want := `pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: c; requests.memory for: c`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("pod without resources: %v, want %q", err, want)
	}
	p := pod("sized")
	p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("700m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
		Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}}
	if _, err := cs.CoreV1().Pods("team").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Name = "second"
	_, err = cs.CoreV1().Pods("team").Create(ctx, p, metav1.CreateOptions{})
	want = `pods "second" is forbidden: exceeded quota: compute, requested: limits.cpu=700m, used: limits.cpu=700m, limited: limits.cpu=1`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("second pod: %v, want %q", err, want)
	}
	q, err := cs.CoreV1().ResourceQuotas("team").Get(ctx, "compute", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := q.Status.Used[corev1.ResourceRequestsMemory]; u.String() != "512Mi" {
		t.Errorf("used = %v", q.Status.Used)
	}
}

func TestKubectlDescribeQuota(t *testing.T) {
	srv, cs := cluster(t)
	if _, err := exec.LookPath("kubectl"); err != nil {
		uptest.RequireE2E(t, "kubectl not found on PATH: "+err.Error())
	}
	makeQuota(t, cs, "team-quota", corev1.ResourceList{corev1.ResourcePods: resource.MustParse("3"),
		corev1.ResourceLimitsMemory: resource.MustParse("2Gi")})
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), "kubectl", append([]string{"--kubeconfig", srv.Kubeconfig, "-n", "team"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := kubectl("describe", "quota", "team-quota")
	for _, want := range []string{"Name:", "team-quota", "Namespace:", "Resource       Used  Hard", "limits.memory  0     2Gi", "pods           0     3"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe quota lacks %q:\n%s", want, out)
		}
	}
	out = kubectl("get", "quota")
	if !strings.Contains(out, "team-quota") || !strings.Contains(out, "pods: 0/3") || !strings.Contains(out, "limits.memory: 0/2Gi") {
		t.Errorf("get quota:\n%s", out)
	}
}

// A LimitRange's defaults satisfy a compute quota's "must specify" and are what it charges.
func TestQuotaWithLimitRangeDefaults(t *testing.T) {
	_, cs := cluster(t)
	ctx := t.Context()
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "defaults"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
		{Type: corev1.LimitTypeContainer, Default: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}}}}
	if _, err := cs.CoreV1().LimitRanges("team").Create(ctx, lr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	makeQuota(t, cs, "cpu", corev1.ResourceList{corev1.ResourceLimitsCPU: resource.MustParse("1"), corev1.ResourceRequestsCPU: resource.MustParse("1")})
	for _, name := range []string{"a", "b"} {
		if _, err := cs.CoreV1().Pods("team").Create(ctx, pod(name), metav1.CreateOptions{}); err != nil {
			t.Fatalf("pod %s: %v", name, err)
		}
	}
	_, err := cs.CoreV1().Pods("team").Create(ctx, pod("c"), metav1.CreateOptions{})
	want := `pods "c" is forbidden: exceeded quota: cpu, requested: limits.cpu=500m,requests.cpu=500m, used: limits.cpu=1,requests.cpu=1, limited: limits.cpu=1,requests.cpu=1`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("third pod: %v, want %q", err, want)
	}
}

// Services are charged on create and on updates (a ClusterIP Service becoming a NodePort one).
func TestQuotaServicesNodePortsOnUpdate(t *testing.T) {
	_, cs := cluster(t)
	ctx := t.Context()
	makeQuota(t, cs, "svc", corev1.ResourceList{corev1.ResourceServices: resource.MustParse("2"), corev1.ResourceServicesNodePorts: resource.MustParse("1")})
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{
		Ports: []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "agent", Port: 50000}}}}
	made, err := cs.CoreV1().Services("team").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	made.Spec.Type = corev1.ServiceTypeNodePort
	_, err = cs.CoreV1().Services("team").Update(ctx, made, metav1.UpdateOptions{})
	want := `services "web" is forbidden: exceeded quota: svc, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("NodePort update: %v, want %q", err, want)
	}
	got, err := cs.CoreV1().Services("team").Get(ctx, "web", metav1.GetOptions{})
	if err != nil || got.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("refused update stored: %v %v", got.Spec.Type, err)
	}
	q, err := cs.CoreV1().ResourceQuotas("team").Get(ctx, "svc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := q.Status.Used[corev1.ResourceServices]; u.Value() != 1 {
		t.Errorf("used = %v", q.Status.Used)
	}
}

// count/RESOURCE.GROUP counts any resource: the controller lists it through the API.
func TestQuotaObjectCountOfAnyGroup(t *testing.T) {
	_, cs := cluster(t)
	ctx := t.Context()
	replicas := int32(0)
	deploy := func(name string) *appsv1.Deployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.DeploymentSpec{Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: pod("x").Spec}}}
	}
	if _, err := cs.AppsV1().Deployments("team").Create(ctx, deploy("one"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	makeQuota(t, cs, "objects", corev1.ResourceList{"count/deployments.apps": resource.MustParse("2")})
	q, err := cs.CoreV1().ResourceQuotas("team").Get(ctx, "objects", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := q.Status.Used["count/deployments.apps"]; u.Value() != 1 {
		t.Errorf("used counted by the controller = %v, want 1", q.Status.Used)
	}
	if _, err := cs.AppsV1().Deployments("team").Create(ctx, deploy("two"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = cs.AppsV1().Deployments("team").Create(ctx, deploy("three"), metav1.CreateOptions{})
	want := `deployments.apps "three" is forbidden: exceeded quota: objects, requested: count/deployments.apps=1, used: count/deployments.apps=2, limited: count/deployments.apps=2`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("third deployment: %v, want %q", err, want)
	}
	// A deleted one is given back at once, as the conformance spec "should create a
	// ResourceQuota and capture the life of a replica set" waits for (not after the 5 min
	// resync).
	if err := cs.AppsV1().Deployments("team").Delete(ctx, "one", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "count/deployments.apps given back after a delete", func() bool {
		q, err := cs.CoreV1().ResourceQuotas("team").Get(ctx, "objects", metav1.GetOptions{})
		u := q.Status.Used["count/deployments.apps"]
		return err == nil && u.Value() == 1
	})
}

// dumpOnFailure logs the quotas and pods of team when the test failed.
func dumpOnFailure(t *testing.T, cs kubernetes.Interface) {
	if !t.Failed() {
		return
	}
	ctx := context.Background()
	if qs, err := cs.CoreV1().ResourceQuotas("team").List(ctx, metav1.ListOptions{}); err == nil {
		for _, q := range qs.Items {
			t.Logf("quota %s rv %s: hard %v used %v", q.Name, q.ResourceVersion, q.Status.Hard, q.Status.Used)
		}
	}
	if ps, err := cs.CoreV1().Pods("team").List(ctx, metav1.ListOptions{}); err == nil {
		for _, p := range ps.Items {
			t.Logf("pod %s rv %s phase %s deletion %v", p.Name, p.ResourceVersion, p.Status.Phase, p.DeletionTimestamp)
		}
	}
}
