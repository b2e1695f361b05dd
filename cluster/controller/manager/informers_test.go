package manager_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/manager"
	"github.com/drover-ci/drover/internal/logtest"
)

// podWatcher is a controller that reports its term when it runs (its handler counts pods).
type podWatcher struct {
	term    int
	started chan<- int
}

func (w podWatcher) Name() string { return "podwatcher" }
func (w podWatcher) Run(ctx context.Context) error {
	w.started <- w.term
	<-ctx.Done()
	return nil
}

// listCounter counts the LISTs (not watches) of pods that reach the API server.
type listCounter struct {
	rt    http.RoundTripper
	lists atomic.Int32
}

func (c *listCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && req.URL.Path == "/api/v1/pods" && req.URL.Query().Get("watch") != "true" {
		c.lists.Add(1)
	}
	return c.rt.RoundTrip(req)
}

// A process that loses its Lease and leads again keeps its informers: the new term's
// controllers start on the synced caches (their handlers are sent every cached object) and
// nothing is listed again, and the old term's handlers are removed (they are told nothing
// more). Issue 20: with fresh informers per term, a lost Lease on a loaded server cost ~50 s
// of re-listing 30,000 pods before any controller acted again.
func TestTermsShareTheInformers(t *testing.T) {
	srv := apiservertest.Start(t)
	admin, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pod := func(name string) {
		t.Helper()
		if _, err := admin.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		pod(fmt.Sprintf("before-%d", i))
	}
	counter := &listCounter{}
	cfg := rest.CopyConfig(srv.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { counter.rt = rt; return counter })
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}

	seen := &sync.Map{}
	count := func(term int) int32 {
		v, _ := seen.LoadOrStore(term, &atomic.Int32{})
		return v.(*atomic.Int32).Load()
	}
	started := make(chan int, 4)
	var terms atomic.Int32
	build := func(cc controller.Context) (controller.Controller, error) {
		term := int(terms.Add(1))
		n, _ := seen.LoadOrStore(term, &atomic.Int32{})
		if _, err := cc.Informers.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { n.(*atomic.Int32).Add(1) },
		}); err != nil {
			return nil, err
		}
		return podWatcher{term: term, started: started}, nil
	}
	ended := make(chan error, 1)
	go func() {
		ended <- manager.Run(ctx, manager.Config{Logger: logtest.New(t), Client: client, Identity: "me",
			LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond,
			Controllers: map[string]controller.Constructor{"podwatcher": build}})
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("within 20 s: %s", what)
			}
		}
	}
	select {
	case term := <-started:
		if term != 1 {
			t.Fatalf("first term numbered %d", term)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the manager did not lead within 20 s")
	}
	waitFor("term 1's handler told of the 3 pods", func() bool { return count(1) == 3 })

	// Another holder takes the Lease for a second: the term ends, and the next one begins once
	// that Lease has expired.
	takeLease(ctx, t, client, 1)
	select {
	case term := <-started:
		if term != 2 {
			t.Fatalf("second term numbered %d", term)
		}
	case err := <-ended:
		t.Fatalf("Run returned: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the manager did not lead again within 20 s")
	}
	waitFor("term 2's handler told of the 3 cached pods", func() bool { return count(2) == 3 })
	pod("after")
	waitFor("term 2's handler told of the new pod", func() bool { return count(2) == 4 })
	time.Sleep(200 * time.Millisecond) // room for a stray notification to term 1's handler
	if n := count(1); n != 3 {
		t.Errorf("term 1's handler was told of %d pods; want 3 (its handler must be removed at its end)", n)
	}
	if n := counter.lists.Load(); n != 1 {
		t.Errorf("pods listed %d times across two terms; want 1 (the informers outlive a term)", n)
	}
	cancel()
	select {
	case <-ended:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15 s of its context ending")
	}
}
