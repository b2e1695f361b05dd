package manager_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cloud/runner"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/consulcatalog"
	"github.com/drover-ci/drover/cluster/controller/manager"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

// stopBound is how soon after its context ends a controller must return.
const stopBound = time.Second

// slowCall is how long every write of the fake API (and every Consul call) takes while the
// test has not ended the controllers' context: long enough that the workers are in the middle
// of a sync when it ends. Like a real client, a call returns with the context's error as soon
// as the context ends.
const slowCall = 3 * time.Second

// TestControllersStopWithTheirContext: every controller the manager runs returns within a
// second of its context ending, both when its workers are idle and when they are in the middle
// of syncs (issue 19: one that stays blocked in its queue's Get stalls every later term).
func TestControllersStopWithTheirContext(t *testing.T) {
	for _, name := range controllerNames(t) {
		for _, busy := range []bool{false, true} {
			state := "idle"
			if busy {
				state = "busy"
			}
			t.Run(name+"/"+state, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				client := fake.NewSimpleClientset(workFor(busy)...)
				client.PrependReactor("get", "replicationcontrollers", rcScale) // the fake has no scale subresource
				var inflight atomic.Int32
				client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
					switch a.GetVerb() {
					case "get", "list", "watch":
						return false, nil, nil
					}
					inflight.Add(1)
					defer inflight.Add(-1)
					select {
					case <-time.After(slowCall):
						return false, nil, nil
					case <-ctx.Done():
						return true, nil, ctx.Err()
					}
				})
				factory := informers.NewSharedInformerFactory(client, 0)
				c, err := allControllers(t, busy)[name](controller.Context{Logger: logtest.New(t), Client: client, Informers: factory, Clock: clock.RealClock{},
					Recorder: func(string) record.EventRecorder { return &record.FakeRecorder{} },
					Options:  controller.Options{}.WithDefaults()})
				if err != nil {
					t.Fatal(err)
				}
				factory.Start(ctx.Done())
				done := make(chan error, 1)
				go func() { done <- c.Run(ctx) }()
				factory.WaitForCacheSync(ctx.Done())
				switch {
				case busy && name == runner.Name:
					// The runner does nothing until its configuration exists: idle either way.
					time.Sleep(300 * time.Millisecond)
				case busy && name == "csrsigner":
					// Without a cluster signing key (none in Options here) it only waits.
					time.Sleep(300 * time.Millisecond)
				case busy && name == "consulcatalog":
					time.Sleep(300 * time.Millisecond) // in its first, slow, Consul call
				case busy:
					waitInflight(t, &inflight, name)
				default:
					time.Sleep(300 * time.Millisecond) // idle in the queue's Get
				}
				cancel()
				select {
				case <-done:
				case <-time.After(stopBound):
					t.Fatalf("%s did not return within %v of its context ending", name, stopBound)
				}
				factory.Shutdown()
			})
		}
	}
}

// controllerNames names every controller of allControllers.
func controllerNames(t *testing.T) []string {
	var names []string
	for n := range allControllers(t, false) {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// allControllers is every controller `drover server` may run: manager.All, the Jenkins cloud
// runner and the Consul catalog, against a Consul that answers at once (an empty catalog) or,
// when busy, only after slowCall.
func allControllers(t *testing.T, busy bool) map[string]controller.Constructor {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !busy {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("null"))
			return
		}
		select {
		case <-time.After(slowCall):
		case <-r.Context().Done():
		}
		http.Error(w, "slow", http.StatusServiceUnavailable)
	}))
	t.Cleanup(slow.Close)
	consul, err := consulapi.NewClient(&consulapi.Config{Address: slow.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	all := manager.All()
	all[runner.Name] = runner.New(runner.Config{})
	all["consulcatalog"] = consulcatalog.New(consulcatalog.Config{Consul: consul})
	return all
}

// rcScale answers get replicationcontrollers/rc/scale, which the fake clientset cannot.
func rcScale(a k8stesting.Action) (bool, runtime.Object, error) {
	if a.GetSubresource() != "scale" {
		return false, nil, nil
	}
	return true, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "default"},
		Spec: autoscalingv1.ScaleSpec{Replicas: 1}, Status: autoscalingv1.ScaleStatus{Replicas: 1, Selector: "app=w"}}, nil
}

// waitInflight waits until a write of the controller is in progress.
func waitInflight(t *testing.T, inflight *atomic.Int32, name string) {
	t.Helper()
	uptest.Eventually(t, 10*time.Second, "a write of "+name+" (none: the test's objects give it no work)",
		func() bool { return inflight.Load() != 0 })
}

// workFor returns objects that give every controller something to write: an RC, a Deployment and a Job
// short of pods, a CronJob with a missed run, pending pods and a Ready node for the scheduler,
// a Service without a cluster IP and with a selector, a Node without a pod subnet whose Lease
// is stale, a pending claim with a volume that fits, and a pod on a NoExecute-tainted node.
func workFor(busy bool) []runtime.Object {
	if !busy {
		return nil
	}
	old := metav1.NewTime(time.Now().Add(-10 * time.Minute))
	one := int32(1)
	labels := map[string]string{"app": "w"}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	rcTmpl := tmpl
	rcTmpl.Spec.RestartPolicy = corev1.RestartPolicyAlways
	fs := corev1.PersistentVolumeFilesystem
	stsTmpl := *rcTmpl.DeepCopy()
	stsTmpl.Labels = map[string]string{"app": "sts"}
	minAvailable := intstr.FromInt32(1)
	return []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		// An expired bootstrap token: the tokencleaner's work.
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-abcdef", Namespace: metav1.NamespaceSystem, UID: "token-uid"},
			Type: "bootstrap.kubernetes.io/token",
			Data: map[string][]byte{"token-id": []byte("abcdef"), "expiration": []byte(old.UTC().Format(time.RFC3339))}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view"}, AggregationRule: &rbacv1.AggregationRule{
			ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}}}}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pods-view", Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
			Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}},
		&corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "default", UID: "rc-uid"},
			Spec: corev1.ReplicationControllerSpec{Replicas: &one, Selector: labels, Template: &rcTmpl}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "deploy", Namespace: "default", UID: "deploy-uid"},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: rcTmpl,
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "job", Namespace: "default", UID: "job-uid"},
			Spec: batchv1.JobSpec{Template: tmpl}},
		&batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "cron", Namespace: "default", UID: "cron-uid", CreationTimestamp: old},
			Spec: batchv1.CronJobSpec{Schedule: "* * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}},
		&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "hpa", Namespace: "default"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &one, MaxReplicas: 3,
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "v1", Kind: "ReplicationController", Name: "rc"}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "default", UID: "pod-uid", Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: old},
			Status: corev1.NodeStatus{
				Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: old}},
				Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}}},
		&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{RenewTime: &metav1.MicroTime{Time: old.Time}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: "default"},
			Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "sts", Namespace: "default", UID: "sts-uid"},
			Spec: appsv1.StatefulSetSpec{Replicas: &one, ServiceName: "sts", Template: stsTmpl,
				Selector: &metav1.LabelSelector{MatchLabels: stsTmpl.Labels}}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"},
			Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, VolumeMode: &fs,
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/pv"}}},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "pvc", Namespace: "default"},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, VolumeMode: &fs,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "ds", Namespace: "default", UID: "ds-uid"},
			Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: rcTmpl}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: "default", UID: "rs-uid"},
			Spec: appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "rs"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "rs"}}, Spec: rcTmpl.Spec}}},
		&corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "quota", Namespace: "default"},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}}},
		// Endpoints of a Service without a selector, for the EndpointSlice mirroring.
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: "default", UID: "manual-uid"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.50", Ports: []corev1.ServicePort{{Port: 80}}}},
		&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: "default", UID: "manual-ep-uid"},
			Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.1.2.3"}}, Ports: []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}},
		// A pod on a node with a NoExecute taint it does not tolerate, for the taint eviction.
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "tainted", CreationTimestamp: old},
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoExecute}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "on-tainted", Namespace: "default", UID: "on-tainted-uid"},
			Spec: corev1.PodSpec{NodeName: "tainted", Containers: []corev1.Container{{Name: "c", Image: "i"}}}},
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "pdb", Namespace: "default"},
			Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: labels}}},
	}
}

// stuckController ignores its context: the bug a bounded term wait must survive.
type stuckController struct{ started chan struct{} }

func (stuckController) Name() string { return "stuck" }
func (s stuckController) Run(context.Context) error {
	close(s.started)
	select {} // never returns
}

// A term whose controller does not return within StopTimeout of losing the Lease ends Run with
// an error naming that controller, instead of waiting for ever before campaigning again.
func TestStuckControllerEndsRun(t *testing.T) {
	srv := apiservertest.Start(t)
	client, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	ended := make(chan error, 1)
	go func() {
		ended <- manager.Run(ctx, manager.Config{Logger: logtest.New(t), Client: client, Identity: "me",
			LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 200 * time.Millisecond,
			StopTimeout: 500 * time.Millisecond,
			Controllers: map[string]controller.Constructor{
				"stuck":     func(controller.Context) (controller.Controller, error) { return stuckController{started}, nil },
				"endpoints": manager.All()["endpoints"],
			}})
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the manager did not lead within 20 s")
	}
	// Another holder takes the Lease: the fence ends the term at the next renewal.
	takeLease(ctx, t, client, 60)
	select {
	case err := <-ended:
		var se *manager.StuckError
		if !errors.As(err, &se) || len(se.Controllers) != 1 || se.Controllers[0] != "stuck" {
			t.Fatalf("Run returned %v; want a StuckError naming only the controller \"stuck\"", err)
		}
		t.Logf("Run: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15 s of losing the Lease with a stuck controller")
	}
}

// takeLease makes "someone-else" the controller manager's Lease holder for seconds.
func takeLease(ctx context.Context, t *testing.T, client kubernetes.Interface, seconds int32) {
	t.Helper()
	leases := client.CoordinationV1().Leases("kube-system")
	if err := retryOnConflict(func() error {
		l, err := leases.Get(ctx, manager.LeaseName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		other := "someone-else"
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds = &other, &seconds
		l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func retryOnConflict(f func() error) error {
	var err error
	for i := 0; i < 10; i++ {
		if err = f(); err == nil || !apierrors.IsConflict(err) {
			return err
		}
	}
	return err
}
