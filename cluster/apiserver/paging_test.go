package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/pager"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

func createConfigMaps(t *testing.T, cs kubernetes.Interface, ns, prefix string, n int) {
	t.Helper()
	ctx := testCtx(t)
	for i := 0; i < n; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%03d", prefix, i), Labels: map[string]string{"set": prefix}}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// client-go's pager walks a list page by page while other objects are created and deleted:
// every object that existed throughout comes exactly once, every page is at the first page's
// resourceVersion, and no object comes twice.
func TestPagedListEveryObjectOnceWhileWriting(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	createConfigMaps(t, cs, "default", "stable", 200)
	cms := cs.CoreV1().ConfigMaps("default")

	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Add(1)
	go func() {
		defer churn.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("churn-%03d", i%50)
			if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
				_ = cms.Delete(ctx, name, metav1.DeleteOptions{})
			}
		}
	}()

	var pages atomic.Int32
	var rvs sync.Map
	p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		list, err := cms.List(ctx, opts)
		if err == nil {
			pages.Add(1)
			rvs.Store(list.ResourceVersion, true)
			// Writes land between the pages.
			for i := 0; i < 3; i++ {
				_, _ = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("between-%d-%d", pages.Load(), i)}}, metav1.CreateOptions{})
			}
		}
		return list, err
	})
	p.PageSize = 15
	p.FullListIfExpired = false
	seen := map[string]int{}
	err := p.EachListItem(ctx, metav1.ListOptions{}, func(obj runtime.Object) error {
		seen[obj.(*corev1.ConfigMap).Name]++
		return nil
	})
	close(stop)
	churn.Wait()
	if err != nil {
		t.Fatalf("paged list: %v", err)
	}
	if n := pages.Load(); n < 200/15 {
		t.Errorf("%d pages of 15, want at least %d", n, 200/15)
	}
	n := 0
	rvs.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Errorf("pages answered at %d resourceVersions, want one", n)
	}
	for name, count := range seen {
		if count != 1 {
			t.Errorf("%s listed %d times", name, count)
		}
		if strings.HasPrefix(name, "between-") {
			t.Errorf("%s was created after the first page and is listed", name)
		}
	}
	for i := 0; i < 200; i++ {
		if name := fmt.Sprintf("stable-%03d", i); seen[name] != 1 {
			t.Errorf("%s listed %d times, want once", name, seen[name])
		}
	}
}

func TestPagedListRemainingItemCount(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	cms := cs.CoreV1().ConfigMaps("kube-public")
	// The serviceaccount controller beside the server puts kube-root-ca.crt into kube-public
	// at a moment of its own: wait for it, so that every list below counts the same set.
	eventually(t, 15*time.Second, "kube-root-ca.crt in kube-public", func() (bool, error) {
		_, err := cms.Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil, nil
	})
	createConfigMaps(t, cs, "kube-public", "a", 10)
	first, err := cms.List(ctx, metav1.ListOptions{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	// kube-public holds the root CA ConfigMap too: count what a full list has.
	all, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 3 || first.Continue == "" {
		t.Fatalf("first page: %d items, continue %q; want 3 and a token", len(first.Items), first.Continue)
	}
	if first.RemainingItemCount == nil || *first.RemainingItemCount != int64(len(all.Items)-3) {
		t.Errorf("remainingItemCount %v, want %d", first.RemainingItemCount, len(all.Items)-3)
	}
	second, err := cms.List(ctx, metav1.ListOptions{Limit: 3, Continue: first.Continue})
	if err != nil {
		t.Fatal(err)
	}
	if second.ResourceVersion != first.ResourceVersion || second.Items[0].Name <= first.Items[2].Name {
		t.Errorf("second page at %s starting %s, want %s after %s", second.ResourceVersion, second.Items[0].Name, first.ResourceVersion, first.Items[2].Name)
	}
	if second.RemainingItemCount == nil || *second.RemainingItemCount != int64(len(all.Items)-6) {
		t.Errorf("second page remainingItemCount %v, want %d", second.RemainingItemCount, len(all.Items)-6)
	}
	// With a selector the count is unknown, as in Kubernetes.
	sel, err := cms.List(ctx, metav1.ListOptions{Limit: 3, LabelSelector: "set=a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.Items) != 3 || sel.Continue == "" || sel.RemainingItemCount != nil {
		t.Errorf("selected page: %d items, continue %q, remainingItemCount %v; want 3, a token, none", len(sel.Items), sel.Continue, sel.RemainingItemCount)
	}
	// The last page has neither.
	last, err := cms.List(ctx, metav1.ListOptions{Limit: 100, Continue: first.Continue})
	if err != nil {
		t.Fatal(err)
	}
	if last.Continue != "" || last.RemainingItemCount != nil || len(last.Items) != len(all.Items)-3 {
		t.Errorf("last page: %d items, continue %q, remainingItemCount %v", len(last.Items), last.Continue, last.RemainingItemCount)
	}
	// resourceVersion=0 is served from the cache and ignores limit, as Kubernetes' cacher.
	rv0, err := cms.List(ctx, metav1.ListOptions{Limit: 3, ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rv0.Items) != len(all.Items) || rv0.Continue != "" {
		t.Errorf("resourceVersion=0 limit=3: %d items, continue %q; want all %d", len(rv0.Items), rv0.Continue, len(all.Items))
	}
	// A continue token with a resourceVersion is a 400.
	_, err = cms.List(ctx, metav1.ListOptions{Limit: 3, Continue: first.Continue, ResourceVersion: first.ResourceVersion})
	wantStatus(t, "continue with resourceVersion", err, 400)
}

// A continue token whose revision left the cache's history is a 410 carrying a token that
// continues from the same key at the newest revision.
func TestPagedListContinueExpired(t *testing.T) {
	t.Parallel()
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{WatchCache: apiserver.WatchCache{History: 3}})
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	createConfigMaps(t, cs, "kube-public", "e", 6)
	cms := cs.CoreV1().ConfigMaps("kube-public")
	first, err := cms.List(ctx, metav1.ListOptions{Limit: 2, LabelSelector: "set=e"})
	if err != nil {
		t.Fatal(err)
	}
	createConfigMaps(t, cs, "kube-public", "f", 5)
	// The cache takes the new writes in a moment after they are made (longer under load): a
	// list at the newest revision waits for it, so that the continue meets a history without
	// the token's revision.
	latest, err := cms.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cms.List(ctx, metav1.ListOptions{Limit: 1, ResourceVersion: latest.ResourceVersion}); err != nil {
		t.Fatal(err)
	}
	_, err = cms.List(ctx, metav1.ListOptions{Limit: 2, LabelSelector: "set=e", Continue: first.Continue})
	se := wantStatus(t, "continue after the history moved on", err, 410)
	if se == nil {
		return
	}
	if se.ErrStatus.Reason != metav1.StatusReasonExpired || se.ErrStatus.ListMeta.Continue == "" {
		t.Fatalf("status %+v, want Expired with a continue token", se.ErrStatus)
	}
	rest, err := cms.List(ctx, metav1.ListOptions{Limit: 10, LabelSelector: "set=e", Continue: se.ErrStatus.ListMeta.Continue})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cm := range rest.Items {
		names = append(names, cm.Name)
	}
	if got := strings.Join(names, ","); got != "e-002,e-003,e-004,e-005" {
		t.Errorf("inconsistent continue listed %s, want e-002..e-005", got)
	}
}

// In a quiet cluster whose history never fills, a continue token still expires: the cache's
// history is compacted each interval to the revision the round before had reached, as
// kube-apiserver compacts etcd (--etcd-compaction-interval), so the token of a first page is a
// 410 with an inconsistent continue token once any later write has been compacted over
// (conformance: "should support continue listing from the last key if the original version has
// been compacted away, though the list is inconsistent", which waits up to two intervals).
func TestPagedListContinueExpiresByCompaction(t *testing.T) {
	t.Parallel()
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{WatchCache: apiserver.WatchCache{CompactInterval: 200 * time.Millisecond}})
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	createConfigMaps(t, cs, "kube-public", "q", 6)
	cms := cs.CoreV1().ConfigMaps("kube-public")
	first, err := cms.List(ctx, metav1.ListOptions{Limit: 2, LabelSelector: "set=q"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cms.List(ctx, metav1.ListOptions{Limit: 2, LabelSelector: "set=q", Continue: first.Continue}); err != nil {
		t.Fatalf("continue right away: %v", err)
	}
	// Another resource moves the revision on; the config maps stay as they are.
	if _, err := cs.CoreV1().Secrets("kube-public").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "later"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var se *apierrors.StatusError
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = cms.List(ctx, metav1.ListOptions{Limit: 2, LabelSelector: "set=q", Continue: first.Continue})
		if err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if se = wantStatus(t, "continue after compaction", err, 410); se == nil {
		return
	}
	if se.ErrStatus.Reason != metav1.StatusReasonExpired || se.ErrStatus.ListMeta.Continue == "" {
		t.Fatalf("status %+v, want Expired with a continue token", se.ErrStatus)
	}
	rest, err := cms.List(ctx, metav1.ListOptions{Limit: 10, LabelSelector: "set=q", Continue: se.ErrStatus.ListMeta.Continue})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cm := range rest.Items {
		names = append(names, cm.Name)
	}
	if got := strings.Join(names, ","); got != "q-002,q-003,q-004,q-005" {
		t.Errorf("inconsistent continue listed %s, want q-002..q-005", got)
	}
	// A watch from before the compaction ends with a 410 ERROR event, as Kubernetes' watch from
	// a compacted revision.
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		wantStatus(t, "watch from the compacted revision", err, 410)
		return
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		st, ok := ev.Object.(*metav1.Status)
		if ev.Type != watch.Error || !ok || st.Code != 410 {
			t.Errorf("watch from the compacted revision: first event %s %+v, want an ERROR with code 410", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Error("watch from the compacted revision: no event in 10 s, want an ERROR with code 410")
	}
}

// kubectl get --chunk-size pages through the list (several requests with limit and continue)
// and prints every object once.
func TestKubectlGetChunkSize(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	kubectl := kubectlFor(t, srv)
	cs := clientFor(t, srv.Config)
	createConfigMaps(t, cs, "default", "k", 23)
	out, err := kubectl("get", "configmaps", "-n", "default", "-l", "set=k", "--chunk-size=5", "-o", "name", "-v=6")
	if err != nil {
		t.Fatalf("kubectl get: %v\n%s", err, out)
	}
	continues := 0
	listed := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "/configmaps?") && strings.Contains(line, "continue=") && strings.Contains(line, "limit=5") {
			continues++
		}
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "configmap/"); ok {
			listed[name]++
		}
	}
	if continues < 4 {
		t.Errorf("kubectl made %d continue requests, want 4 (23 objects in chunks of 5):\n%s", continues, out)
	}
	for i := 0; i < 23; i++ {
		if name := fmt.Sprintf("k-%03d", i); listed[name] != 1 {
			t.Errorf("%s printed %d times, want once", name, listed[name])
		}
	}
}

// resourceVersionMatch: Exact lists the state at that revision (rebuilt from the cache's
// history, 410 once it is gone), NotOlderThan at least that revision; Exact with "0" is a 422.
func TestListResourceVersionMatch(t *testing.T) {
	t.Parallel()
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{WatchCache: apiserver.WatchCache{History: 20}})
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	cms := cs.CoreV1().ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "m", Labels: map[string]string{"set": "m"}}, Data: map[string]string{"v": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := cm.ResourceVersion
	cm.Data["v"] = "2"
	if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	exact, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "set=m", ResourceVersion: first, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if err != nil {
		t.Fatal(err)
	}
	if exact.ResourceVersion != first || len(exact.Items) != 1 || exact.Items[0].Data["v"] != "1" {
		t.Errorf("Exact %s: list at %s with %+v, want the first version", first, exact.ResourceVersion, exact.Items)
	}
	newer, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "set=m", ResourceVersion: cm.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if err != nil {
		t.Fatal(err)
	}
	if len(newer.Items) != 1 || newer.Items[0].Data["v"] != "2" {
		t.Errorf("NotOlderThan %s: %+v, want the second version", cm.ResourceVersion, newer.Items)
	}
	_, err = cms.List(ctx, metav1.ListOptions{ResourceVersion: "0", ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	wantStatus(t, `Exact with resourceVersion "0"`, err, 422)
	// Once the history has moved past it, the first revision is gone.
	createConfigMaps(t, cs, "default", "push", 25)
	_, err = cms.List(ctx, metav1.ListOptions{ResourceVersion: first, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	wantStatus(t, "Exact at a revision older than the history", err, 410)
}

// With ConsistentReadsFromStore (Consul) consistent pages come from the store: a continue token
// is served while the store is at its revision, and is a 410 with a fresh token after a write.
func TestPagedListFromStore(t *testing.T) {
	t.Parallel()
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{WatchCache: apiserver.WatchCache{ConsistentReadsFromStore: true}})
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	createConfigMaps(t, cs, "default", "s", 5)
	cms := cs.CoreV1().ConfigMaps("default")
	// The service account controller may still write: page until two pages in a row agree.
	var first *corev1.ConfigMapList
	eventually(t, 20*time.Second, "two pages at one revision", func() (bool, error) {
		var err error
		if first, err = cms.List(ctx, metav1.ListOptions{Limit: 2, LabelSelector: "set=s"}); err != nil {
			return false, err
		}
		second, err := cms.List(ctx, metav1.ListOptions{Limit: 2, LabelSelector: "set=s", Continue: first.Continue})
		if err != nil {
			return false, nil
		}
		return second.ResourceVersion == first.ResourceVersion && len(second.Items) == 2 && second.Items[0].Name == "s-002", nil
	})
	createConfigMaps(t, cs, "default", "t", 1)
	_, err := cms.List(ctx, metav1.ListOptions{Limit: 2, LabelSelector: "set=s", Continue: first.Continue})
	if se := wantStatus(t, "continue after a write", err, 410); se != nil && se.ErrStatus.ListMeta.Continue == "" {
		t.Errorf("410 without a continue token: %+v", se.ErrStatus)
	}
}
