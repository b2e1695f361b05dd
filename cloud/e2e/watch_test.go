package e2e_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/agents/render"
)

// podWatch counts the agent pods of a template created while it runs (from
// a watch, not snapshots: a pod that lived between two lists is counted),
// the most alive (not terminating) at once, and the claims they mounted.
type podWatch struct {
	mu      sync.Mutex
	created map[string]bool
	live    map[string]bool
	most    int
	claims  map[string]string // pod → cache claim
	stop    func()
}

func watchPods(t testing.TB, cs kubernetes.Interface, template string) *podWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sel := render.LabelTemplate + "=" + template
	list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: list.ResourceVersion})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	pw := &podWatch{created: map[string]bool{}, live: map[string]bool{}, claims: map[string]string{}}
	done := make(chan struct{})
	pw.stop = func() { cancel(); w.Stop(); <-done }
	t.Cleanup(func() { pw.stop = func() {}; cancel(); w.Stop() })
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if pod, ok := ev.Object.(*corev1.Pod); ok {
				pw.see(ev.Type, pod)
			}
		}
	}()
	return pw
}

func (pw *podWatch) see(typ watch.EventType, pod *corev1.Pod) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	switch {
	case typ == watch.Added:
		pw.created[pod.Name] = true
		pw.live[pod.Name] = true
		for _, v := range pod.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && strings.HasPrefix(v.Name, "cache-") {
				pw.claims[pod.Name] = v.PersistentVolumeClaim.ClaimName
			}
		}
	case typ == watch.Deleted || pod.DeletionTimestamp != nil:
		delete(pw.live, pod.Name)
	}
	pw.most = max(pw.most, len(pw.live))
}

// counts returns the pods created and the most alive at once.
func (pw *podWatch) counts() (created, most int) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return len(pw.created), pw.most
}

// claimsOf returns the cache claims mounted by the pods created.
func (pw *podWatch) claimsOf() map[string]string {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	out := map[string]string{}
	for k, v := range pw.claims {
		out[k] = v
	}
	return out
}

// events lists the reasons and messages of the events in namespace default.
func events(t testing.TB, cs kubernetes.Interface) []string {
	t.Helper()
	list, err := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out
}

// metrics reads drover's /metrics.
func metrics(t testing.TB, cs kubernetes.Interface) string {
	t.Helper()
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return string(raw)
}
