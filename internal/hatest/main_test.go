package hatest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/internal/hatest"
)

// droverBin is the drover binary TestMain builds for every test of the package; the environment variable
var droverBin string

// DROVER_BIN names a binary to use instead.
func TestMain(m *testing.M) {
	if droverBin = os.Getenv("DROVER_BIN"); droverBin != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "drover-ha-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	droverBin, err = hatest.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// prefix returns a Consul key prefix of its own for a test.
func prefix(name string) string { return fmt.Sprintf("ha-%s-%d", name, rand.Uint32()) }

// retry calls f until it succeeds or timeout passes, returning the last error.
func retry(timeout time.Duration, f func(ctx context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := f(ctx)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitNodesReady(t testing.TB, cs kubernetes.Interface, n int) {
	t.Helper()
	err := retry(60*time.Second, func(ctx context.Context) error {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, nd := range nodes.Items {
			for _, c := range nd.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready < n {
			return fmt.Errorf("%d of %d nodes Ready", ready, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// active reports whether a pod counts against its RC: not terminating, Pending or Running.
func active(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && (p.Status.Phase == corev1.PodPending || p.Status.Phase == corev1.PodRunning)
}

// podMonitor follows the pods matching a selector through a watch and records the largest
// number of active pods seen at any one revision, with the revision and the pods. It keeps its
// own map instead of an informer's store: an informer that re-lists (its watch moved to another
// server and got 410) applies the new list to its store one object at a time and deletes the
// vanished ones last, so its store briefly holds old and new pods together, which counted as
// too many active pods. Here a re-list replaces the map at once, and each re-list is logged.
type podMonitor struct {
	t       testing.TB
	cs      kubernetes.Interface
	ns, sel string

	mu      sync.Mutex
	pods    map[string]*corev1.Pod
	max     int
	maxRV   string
	maxAt   time.Time
	maxPods []string
	relists int
}

func startPodMonitor(t testing.TB, cs kubernetes.Interface, ns, selector string) *podMonitor {
	t.Helper()
	m := &podMonitor{t: t, cs: cs, ns: ns, sel: selector}
	ctx, cancel := context.WithCancel(context.Background())
	rv, err := m.list(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.follow(ctx, rv)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return m
}

// list replaces the map with a fresh list and returns its resourceVersion.
func (m *podMonitor) list(ctx context.Context) (string, error) {
	l, err := m.cs.CoreV1().Pods(m.ns).List(ctx, metav1.ListOptions{LabelSelector: m.sel})
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pods = map[string]*corev1.Pod{}
	for i := range l.Items {
		m.pods[l.Items[i].Name] = &l.Items[i]
	}
	m.checkLocked(l.ResourceVersion)
	return l.ResourceVersion, nil
}

// follow watches from rv until ctx ends: a watch that ends is resumed from the last revision
// seen, on whichever server the balancer picks; a 410 re-lists.
func (m *podMonitor) follow(ctx context.Context, rv string) {
	for ctx.Err() == nil {
		w, err := m.cs.CoreV1().Pods(m.ns).Watch(ctx, metav1.ListOptions{LabelSelector: m.sel, ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = m.relist(ctx, rv, err)
			} else {
				sleepCtx(ctx, 200*time.Millisecond)
			}
			continue
		}
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					rv = m.relist(ctx, rv, err)
				}
			case watch.Bookmark:
				if p, ok := ev.Object.(*corev1.Pod); ok {
					rv = p.ResourceVersion
				}
			case watch.Added, watch.Modified, watch.Deleted:
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					continue
				}
				rv = p.ResourceVersion
				m.mu.Lock()
				if ev.Type == watch.Deleted {
					delete(m.pods, p.Name)
				} else {
					m.pods[p.Name] = p
				}
				m.checkLocked(rv)
				m.mu.Unlock()
			}
		}
		w.Stop()
	}
}

func (m *podMonitor) relist(ctx context.Context, rv string, why error) string {
	for ctx.Err() == nil {
		next, err := m.list(ctx)
		if err == nil {
			m.mu.Lock()
			m.relists++
			m.mu.Unlock()
			m.t.Logf("pod monitor: re-listed at revision %s after its watch from %s ended: %v", next, rv, why)
			return next
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	return rv
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (m *podMonitor) checkLocked(rv string) {
	var names []string
	for _, p := range m.pods {
		if active(p) {
			names = append(names, p.Name)
		}
	}
	if len(names) > m.max {
		sort.Strings(names)
		m.max, m.maxRV, m.maxAt, m.maxPods = len(names), rv, time.Now(), names
	}
}

// Max returns the largest number of active pods seen, when (and at which revision) and which.
func (m *podMonitor) Max() (int, string, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.max, fmt.Sprintf("%s (revision %s)", m.maxAt.Format(time.StampMilli), m.maxRV), m.maxPods
}

// writer creates ConfigMaps in a stream against random servers and remembers the ones whose
// create was acknowledged.
type writer struct {
	c      *hatest.Cluster
	ns     string
	mu     sync.Mutex
	acked  []string
	failed int
	stop   chan struct{}
	done   chan struct{}
}

func startWriter(t testing.TB, c *hatest.Cluster, ns string) *writer {
	w := &writer{c: c, ns: ns, stop: make(chan struct{}), done: make(chan struct{})}
	clients := make([]kubernetes.Interface, len(c.Servers))
	for i, s := range c.Servers {
		clients[i] = s.Client()
	}
	go func() {
		defer close(w.done)
		for n := 0; ; n++ {
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			name := fmt.Sprintf("cm-%05d", n)
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"n": fmt.Sprint(n)}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := clients[rand.IntN(len(clients))].CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
			cancel()
			w.mu.Lock()
			if err == nil {
				w.acked = append(w.acked, name)
			} else {
				w.failed++
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.Stop)
	return w
}

// Stop ends the stream and waits for the write under way.
func (w *writer) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// verify checks that every acknowledged create is readable, by Get and in a List, from every
// running server.
func (w *writer) verify(t testing.TB) {
	t.Helper()
	w.mu.Lock()
	acked := append([]string(nil), w.acked...)
	failed := w.failed
	w.mu.Unlock()
	t.Logf("ConfigMap creates: %d acknowledged, %d failed", len(acked), failed)
	if len(acked) == 0 {
		t.Fatal("no ConfigMap create was acknowledged")
	}
	for _, s := range w.c.Live() {
		cs := s.Client()
		var list *corev1.ConfigMapList
		if err := retry(30*time.Second, func(ctx context.Context) (err error) {
			list, err = cs.CoreV1().ConfigMaps(w.ns).List(ctx, metav1.ListOptions{})
			return err
		}); err != nil {
			t.Fatalf("server %d: list: %v", s.Index, err)
		}
		have := map[string]bool{}
		for _, cm := range list.Items {
			have[cm.Name] = true
		}
		lost := 0
		for _, name := range acked {
			if !have[name] {
				lost++
				t.Errorf("server %d: acknowledged ConfigMap %s missing from the list", s.Index, name)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := cs.CoreV1().ConfigMaps(w.ns).Get(ctx, name, metav1.GetOptions{})
			cancel()
			if err != nil {
				lost++
				t.Errorf("server %d: get acknowledged ConfigMap %s: %v", s.Index, name, err)
			}
			if lost > 10 {
				t.Fatalf("server %d: too many acknowledged writes lost", s.Index)
			}
		}
	}
}

func createNamespace(t testing.TB, cs kubernetes.Interface, name string) {
	t.Helper()
	if err := retry(30*time.Second, func(ctx context.Context) error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1)+0.5)]
}
