package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// seen is one watch event reduced to what tests compare.
type seen struct {
	Type watch.EventType
	Name string
	Info string // a label or field the test follows
}

// collect reads n events from w (failing after a deadline) and reduces them with info.
func collect(t *testing.T, w watch.Interface, n int, info func(*corev1.Pod) string) []seen {
	t.Helper()
	var out []seen
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %v", out)
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				t.Fatalf("event %s with %T: %+v", ev.Type, ev.Object, ev.Object)
			}
			out = append(out, seen{Type: ev.Type, Name: pod.Name, Info: info(pod)})
		case <-timeout:
			t.Fatalf("got %d of %d events: %v", len(out), n, out)
		}
	}
	return out
}

// noMoreEvents fails if w delivers anything within a short while.
func noMoreEvents(t *testing.T, w watch.Interface) {
	t.Helper()
	select {
	case ev := <-w.ResultChan():
		t.Errorf("unexpected event %s %T", ev.Type, ev.Object)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestWatchFromListRevision(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod("before", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	p, err := pods.Create(ctx, newPod("w", map[string]string{"v": "1"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels["v"] = "2"
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "w", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got := collect(t, w, 3, func(p *corev1.Pod) string { return p.Labels["v"] })
	want := []seen{{watch.Added, "w", "1"}, {watch.Modified, "w", "2"}, {watch.Deleted, "w", "2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	noMoreEvents(t, w)
}

func TestWatchResourceVersionsRise(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	w, err := pods.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for i := 0; i < 5; i++ {
		if _, err := pods.Create(ctx, newPod(fmt.Sprintf("p%d", i), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var last int64
	for _, s := range collect(t, w, 5, func(p *corev1.Pod) string { return p.ResourceVersion }) {
		n := rv(t, s.Info)
		if n <= last {
			t.Errorf("event rv %d after %d", n, last)
		}
		last = n
	}
}

func TestWatchLabelSelectorTransitions(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	p, err := pods.Create(ctx, newPod("sel", map[string]string{"app": "x"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Create(ctx, newPod("other", map[string]string{"app": "y"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: "app=x", ResourceVersion: p.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	relabel := func(name, app string) {
		t.Helper()
		_, err := pods.Patch(ctx, name, "application/merge-patch+json", []byte(`{"metadata":{"labels":{"app":"`+app+`"}}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	relabel("sel", "gone")  // stops matching → DELETED
	relabel("other", "x")   // starts matching → ADDED
	relabel("other", "x2")  // stops matching → DELETED
	relabel("sel", "still") // never matched → nothing
	relabel("sel", "x")     // matches again → ADDED
	got := collect(t, w, 4, func(p *corev1.Pod) string { return p.Labels["app"] })
	want := []seen{
		{watch.Deleted, "sel", "gone"},
		{watch.Added, "other", "x"},
		{watch.Deleted, "other", "x2"},
		{watch.Added, "sel", "x"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	noMoreEvents(t, w)
}

func TestWatchFieldSelectorNodeName(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("")
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=n1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, name := range []string{"x", "y"} {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, newPod(name, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cs.CoreV1().Pods("default").Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "y"},
		Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := collect(t, w, 1, func(p *corev1.Pod) string { return p.Spec.NodeName })
	if diff := cmp.Diff([]seen{{watch.Added, "y", "n1"}}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestWatchWithoutResourceVersionSendsInitialAdds(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	for _, n := range []string{"a", "b"} {
		if _, err := pods.Create(ctx, newPod(n, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	got := collect(t, w, 2, func(*corev1.Pod) string { return "" })
	want := []seen{{watch.Added, "a", ""}, {watch.Added, "b", ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("initial events (-want +got):\n%s", diff)
	}
	if _, err := pods.Create(ctx, newPod("c", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got = collect(t, w, 1, func(*corev1.Pod) string { return "" })
	if diff := cmp.Diff([]seen{{watch.Added, "c", ""}}, got); diff != "" {
		t.Errorf("later event (-want +got):\n%s", diff)
	}
}

func TestWatchTooOldIsGone(t *testing.T) {
	t.Parallel()
	// Both the store and the watch cache keep 5 events.
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{Store: memstore.NewWithHistory(5), WatchCache: apiserver.WatchCache{History: 5}})
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	first, err := pods.Create(ctx, newPod("p0", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 12; i++ {
		if _, err := pods.Create(ctx, newPod(fmt.Sprintf("p%d", i), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	wantTooOld(t, pods, first.ResourceVersion)
	// A recent revision still works.
	list, _ := pods.List(ctx, metav1.ListOptions{})
	w2, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	if err := pods.Delete(ctx, "p0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got := collect(t, w2, 1, func(*corev1.Pod) string { return "" })
	if diff := cmp.Diff([]seen{{watch.Deleted, "p0", ""}}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestWatchBeforeTheCacheIsGone: a watch resuming from a revision the watch cache no longer
// holds is told to re-list (ERROR 410 Expired), as by Kubernetes' cacher, even though the store
// below still has the events: serving it from the store decoded every event again for that one
// watcher, 13 % of a server's CPU at 2,000 nodes.
func TestWatchBeforeTheCacheIsGone(t *testing.T) {
	t.Parallel()
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{Store: memstore.NewWithHistory(1000), WatchCache: apiserver.WatchCache{History: 3}})
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	first, err := pods.Create(ctx, newPod("p0", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 8; i++ {
		if _, err := pods.Create(ctx, newPod(fmt.Sprintf("p%d", i), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A consistent list is served once the cache has caught up with the store.
	if _, err := pods.List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	wantTooOld(t, pods, first.ResourceVersion)
}

// wantTooOld watches pods from rv and wants Kubernetes' answer to a resourceVersion no longer
// held: an ERROR event with a 410 Expired Status, "too old resource version: rv (...)".
func wantTooOld(t *testing.T, pods typedcorev1.PodInterface, rv string) {
	t.Helper()
	w, err := pods.Watch(testCtx(t), metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		st, ok := ev.Object.(*metav1.Status)
		if ev.Type != watch.Error || !ok {
			t.Fatalf("first event %s %T, want ERROR with a Status", ev.Type, ev.Object)
		}
		if st.Code != 410 || st.Reason != metav1.StatusReasonExpired || !strings.Contains(st.Message, "too old resource version: "+rv) {
			t.Errorf("status code %d reason %s message %q, want 410 Expired, too old resource version", st.Code, st.Reason, st.Message)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event from a watch from a revision no longer held")
	}
}

func TestInformerSyncsAndFollows(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	pods := cs.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod("early", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().Pods()
	var mu sync.Mutex
	var events []string
	record := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	_, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { record("add " + o.(*corev1.Pod).Name) },
		UpdateFunc: func(_, o interface{}) { record("update " + o.(*corev1.Pod).Name + " " + o.(*corev1.Pod).Labels["v"]) },
		DeleteFunc: func(o interface{}) {
			if p, ok := o.(*corev1.Pod); ok {
				record("delete " + p.Name)
			} else {
				record("delete tombstone")
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	defer func() { cancel(); factory.Shutdown() }()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("informer for %v did not sync", typ)
		}
	}
	if _, err := inf.Lister().Pods("default").Get("early"); err != nil {
		t.Errorf("lister after sync: %v", err)
	}
	p, err := pods.Create(ctx, newPod("late", map[string]string{"v": "1"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels["v"] = "2"
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "early", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"add early", "add late", "update late 2", "delete early"}
	eventually(t, 10*time.Second, "informer events", func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return cmp.Equal(want, events), fmt.Errorf("events %v", events)
	})
	eventually(t, 5*time.Second, "lister state", func() (bool, error) {
		list, err := inf.Lister().List(labels.Everything())
		return err == nil && len(list) == 1 && list[0].Labels["v"] == "2", err
	})
}

// TestWatchHugeTimeoutSeconds: timeoutSeconds beyond what a Duration holds is capped, not
// overflowed into a negative timeout that ended the watch at once; the watch delivers events,
// and a big grace period on a delete is kept as asked rather than wrapping into the past.
func TestWatchHugeTimeoutSeconds(t *testing.T) {
	_, c := startClient(t)
	ctx := testCtx(t)
	huge := int64(9223372036854775807)
	w, err := c.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{TimeoutSeconds: &huge})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev, ok := <-w.ResultChan()
	if !ok || ev.Type != watch.Added {
		t.Fatalf("watch with timeoutSeconds=%d: first event %v (open %v), want ADDED", huge, ev.Type, ok)
	}
	pod := newPod("p", nil)
	pod.Spec.NodeName = "n1"
	if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().Pods("default").Delete(ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: &huge}); err != nil {
		t.Fatal(err)
	}
	got, err := c.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dt := got.DeletionTimestamp; dt == nil || !dt.After(time.Now().Add(100*365*24*time.Hour)) {
		t.Errorf("deletionTimestamp %v for a grace period of %d s, want centuries ahead", dt, huge)
	}
}
