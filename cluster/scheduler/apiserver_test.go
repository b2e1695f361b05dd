package scheduler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

// startScheduler runs the scheduler against a real API server the way the controller manager
// does (shared informers, events through a broadcaster) until the returned stop is called.
func startScheduler(tb testing.TB, client kubernetes.Interface) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := NewController(controller.Context{Logger: logtest.New(tb), Client: client, Informers: factory, Clock: clock.RealClock{},
		Recorder: func(component string) record.EventRecorder {
			return bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
		}})
	if err != nil {
		tb.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	return func() { cancel(); <-done; factory.Shutdown(); bc.Shutdown() }
}

// createAll creates objects with a few concurrent clients.
func createAll(tb testing.TB, n int, create func(i int) error) {
	tb.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := create(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

func createNodes(tb testing.TB, client kubernetes.Interface, nodes []*corev1.Node) {
	ctx := context.Background()
	createAll(tb, len(nodes), func(i int) error {
		got, err := client.CoreV1().Nodes().Create(ctx, nodes[i], metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if !nodeReady(got) { // a server that drops the status on create
			got.Status = nodes[i].Status
			_, err = client.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{})
		}
		return err
	})
}

func createPods(tb testing.TB, client kubernetes.Interface, ns string, n int, opts ...func(*corev1.Pod)) {
	createAll(tb, n, func(i int) error {
		p := newPod(fmt.Sprintf("pod-%d", i), opts...)
		p.Namespace, p.UID = ns, ""
		_, err := client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
		return err
	})
}

func TestSchedulerAgainstAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	srv := apiservertest.Start(t)
	client := kubernetes.NewForConfigOrDie(srv.Config)
	// 3 nodes of 2 cpu: room for 20 pods of 100m each, 60 in all.
	createNodes(t, client, threeNodes(withAlloc("2", "8Gi", "110")))
	createPods(t, client, "default", 50, withRequests("100m", "64Mi"))
	stop := startScheduler(t, client)
	defer stop()
	ctx := context.Background()
	uptest.Eventually(t, 10*time.Second, "50 pods bound", func() bool { return countBound(t, client) == 50 })

	// 15 more: 10 fit, 5 do not, and say why.
	extra := make([]string, 15)
	for i := range extra {
		p := newPod(fmt.Sprintf("extra-%d", i), withRequests("100m", "64Mi"))
		p.UID = ""
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	uptest.Eventually(t, 10*time.Second, "60 bound, 5 unschedulable", func() bool { return countBound(t, client) == 60 && countUnschedulable(t, client) == 5 })
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cpu := map[string]int64{}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" {
			cpu[p.Spec.NodeName] += podRequests(&p, false).cpu
			continue
		}
		c := p.Status.Conditions[0]
		if c.Reason != "Unschedulable" || c.Message != "0/3 nodes are available: 3 Insufficient cpu." {
			t.Errorf("%s: condition %+v", p.Name, c)
		}
	}
	for node, m := range cpu {
		if m > 2000 {
			t.Errorf("%s overcommitted: %dm of cpu requested", node, m)
		}
	}
	// a fourth node takes the rest
	createNodes(t, client, []*corev1.Node{hollowNode("node-d", withAlloc("2", "8Gi", "110"))})
	uptest.Eventually(t, 10*time.Second, "all 65 bound", func() bool { return countBound(t, client) == 65 })
}

func countBound(tb testing.TB, client kubernetes.Interface) int {
	pods, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" {
			n++
		}
	}
	return n
}

func countUnschedulable(tb testing.TB, client kubernetes.Interface) int {
	pods, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" && hasUnschedulable(&p, "0/3 nodes are available: 3 Insufficient cpu.") {
			n++
		}
	}
	return n
}

// unlimited is the server's client configuration without client-side rate limiting.
func unlimited(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = -1, 0
	return c
}
