package apiserver_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store/boltstore"
)

// startBolt opens the bolt file in dir and runs a server on it; the store closes after the
// server at the end of the test.
func startBolt(t *testing.T, dir string) (*apiservertest.Server, *boltstore.Store) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return apiservertest.StartWith(t, st, dir), st
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv1, st1 := startBolt(t, dir)
	cs1 := clientFor(t, srv1.Config)
	ctx := testCtx(t)
	pod, err := cs1.CoreV1().Pods("default").Create(ctx, newPod("survivor", map[string]string{"a": "1"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cs1.CoreV1().ReplicationControllers("default").Create(ctx, newRC("rc", 2), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs1.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ownedPods(t, ctx, cs1, "owner", 2)
	list, err := cs1.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lastRV := list.ResourceVersion
	token1 := readFile(t, filepath.Join(dir, "admin.token"))
	ca1 := readFile(t, filepath.Join(dir, "pki", "ca.crt"))
	oldCfg := rest.CopyConfig(srv1.Config)

	srv1.Stop()
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}

	srv2, _ := startBolt(t, dir)
	if !bytes.Equal(token1, readFile(t, filepath.Join(dir, "admin.token"))) || !bytes.Equal(ca1, readFile(t, filepath.Join(dir, "pki", "ca.crt"))) {
		t.Errorf("token or CA regenerated on restart")
	}
	if srv2.Config.BearerToken != oldCfg.BearerToken || !bytes.Equal(srv2.Config.CAData, oldCfg.CAData) {
		t.Errorf("new kubeconfig has a different token or CA")
	}
	// The old credentials work against the new server.
	oldCfg.Host = srv2.Config.Host
	cs2 := clientFor(t, oldCfg)
	got, err := cs2.CoreV1().Pods("default").Get(ctx, "survivor", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("pod after restart: %v", err)
	}
	if got.UID != pod.UID || got.ResourceVersion != pod.ResourceVersion || got.Labels["a"] != "1" {
		t.Errorf("pod changed across restart: %+v", got.ObjectMeta)
	}
	gotRC, err := cs2.CoreV1().ReplicationControllers("default").Get(ctx, "rc", metav1.GetOptions{})
	if err != nil || gotRC.UID != rc.UID || *gotRC.Spec.Replicas != 2 {
		t.Errorf("rc after restart: %v %+v", err, gotRC)
	}
	if _, err := cs2.CoreV1().Namespaces().Get(ctx, "team", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace after restart: %v", err)
	}
	// The collector re-lists after the restart: owned pods stay. A dependent of a missing owner,
	// created after the restart, is collected; once it is, the collector has looked at all.
	sentinel := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "sentinel", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "v1", Kind: "ConfigMap", Name: "ghost", UID: "no-such-uid"}}}}
	if _, err := cs2.CoreV1().ConfigMaps("default").Create(ctx, sentinel, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "sentinel collected", func() (bool, error) {
		_, err := cs2.CoreV1().ConfigMaps("default").Get(ctx, "sentinel", metav1.GetOptions{})
		return gone(err)
	})
	if n := len(podsOf(t, ctx, cs2, "owner")); n != 2 {
		t.Errorf("owned pods after restart: %d, want 2", n)
	}
	got.Labels["a"] = "2"
	upd, err := cs2.CoreV1().Pods("default").Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rv(t, upd.ResourceVersion) <= rv(t, lastRV) {
		t.Errorf("resourceVersion after restart %s not above %s", upd.ResourceVersion, lastRV)
	}
	created, err := cs2.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{})
	if err != nil || rv(t, created.ResourceVersion) <= rv(t, upd.ResourceVersion) {
		t.Errorf("create after restart: %v rv %s", err, created.ResourceVersion)
	}
}

func TestWatchAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv1, st1 := startBolt(t, dir)
	cs1 := clientFor(t, srv1.Config)
	ctx := testCtx(t)
	first, err := cs1.CoreV1().Pods("default").Create(ctx, newPod("w0", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	last, err := cs1.CoreV1().Pods("default").Create(ctx, newPod("w1", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv1.Stop()
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}
	srv2, _ := startBolt(t, dir)
	cs2 := clientFor(t, srv2.Config)
	// Both watches start before anything changes after the restart; each must either end
	// with 410 Gone or continue with exactly that change.
	froms := []string{first.ResourceVersion, last.ResourceVersion}
	var watches []watch.Interface
	for _, from := range froms {
		w, err := cs2.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: from})
		if err != nil {
			t.Fatalf("watch from %s: %v", from, err)
		}
		defer w.Stop()
		watches = append(watches, w)
	}
	if _, err := cs2.CoreV1().Pods("default").Create(ctx, newPod("after", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, w := range watches {
		from := froms[i]
		select {
		case ev := <-w.ResultChan():
			switch o := ev.Object.(type) {
			case *metav1.Status:
				if ev.Type != watch.Error || o.Code != 410 {
					t.Errorf("watch from %s: %s with status %d %s, want ERROR 410", from, ev.Type, o.Code, o.Message)
				}
				t.Logf("watch from %s: 410 Gone", from)
			case *corev1.Pod:
				if ev.Type != watch.Added || o.Name != "after" {
					t.Errorf("watch from %s continued with %s %s, want ADDED after", from, ev.Type, o.Name)
				}
				t.Logf("watch from %s: continued", from)
			default:
				t.Errorf("watch from %s: %s %T", from, ev.Type, ev.Object)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("watch from %s: neither 410 nor events", from)
		}
	}
}
