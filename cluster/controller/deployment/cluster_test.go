package deployment_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/container/hollow"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/deployment"
	"github.com/drover-ci/drover/cluster/controller/replication"
	"github.com/drover-ci/drover/cluster/nodeagent"
	"github.com/drover-ci/drover/cluster/scheduler"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

// cluster is a real, in-process API server with the scheduler, the replication, ReplicaSet
// and Deployment controllers, and hollow node agents (the hollow runtime: containers run
// until stopped, the images named unpullable cannot be pulled) on the real clock.
type cluster struct {
	cs kubernetes.Interface
}

func startCluster(t testing.TB, nodes int, unpullable ...string) *cluster {
	t.Helper()
	srv := apiservertest.Start(t)
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	factory := informers.NewSharedInformerFactory(cs, 0)
	t.Cleanup(func() { cancel(); wg.Wait(); factory.Shutdown() })
	cc := controller.Context{Client: cs, Informers: factory, Logger: logtest.New(t),
		Recorder: func(string) record.EventRecorder { return &record.FakeRecorder{} }}
	var ctrls []controller.Controller
	for _, build := range []controller.Constructor{
		controller.Construct(scheduler.NewController), controller.Construct(replication.New),
		controller.Construct(replication.NewReplicaSet), controller.Construct(deployment.New),
	} {
		c, err := build(cc)
		if err != nil {
			t.Fatal(err)
		}
		ctrls = append(ctrls, c)
	}
	factory.Start(ctx.Done())
	for _, c := range ctrls {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Run(ctx) }()
	}
	quiet := slog.New(slog.DiscardHandler)
	for i := 0; i < nodes; i++ {
		rt := hollow.New(hollow.Options{UnpullableImages: unpullable})
		a, err := nodeagent.New(nodeagent.Config{NodeName: fmt.Sprintf("hollow-%d", i), Client: cs, Runtime: rt, Probes: rt.Prober(),
			NodeIP: "127.0.0.1", Logger: quiet, Relist: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = a.Run(ctx) }()
	}
	uptest.Eventually(t, 30*time.Second, "hollow nodes Ready", func() bool {
		list, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		ready := 0
		for _, n := range list.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == nodes
	})
	return &cluster{cs: cs}
}

func (c *cluster) get(t testing.TB, name string) *appsv1.Deployment {
	t.Helper()
	d, err := c.cs.AppsV1().Deployments("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// complete is kubectl rollout status' test of a finished rollout.
func complete(d *appsv1.Deployment) bool {
	return d.Generation <= d.Status.ObservedGeneration && d.Spec.Replicas != nil &&
		d.Status.UpdatedReplicas == *d.Spec.Replicas && d.Status.Replicas == d.Status.UpdatedReplicas &&
		d.Status.AvailableReplicas == d.Status.UpdatedReplicas
}

func (c *cluster) waitComplete(t testing.TB, name string, within time.Duration) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	uptest.Eventually(t, within, "deployment "+name+" rolled out", func() bool {
		d = c.get(t, name)
		return complete(d)
	})
	return d
}

// update changes the Deployment with mutate, retrying on conflicts.
func (c *cluster) update(t testing.TB, name string, mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	t.Helper()
	for i := 0; ; i++ {
		d := c.get(t, name)
		mutate(d)
		out, err := c.cs.AppsV1().Deployments("default").Update(context.Background(), d, metav1.UpdateOptions{})
		if err == nil {
			return out
		}
		if i > 5 {
			t.Fatal(err)
		}
	}
}

// replicaSets lists the Deployment's ReplicaSets by name.
func (c *cluster) replicaSets(t testing.TB, name string) map[string]*appsv1.ReplicaSet {
	t.Helper()
	list, err := c.cs.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
