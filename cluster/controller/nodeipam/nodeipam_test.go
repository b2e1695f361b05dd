package nodeipam

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/internal/logtest"
)

func TestAllocatorOrderReleaseAndFull(t *testing.T) {
	a, err := NewAllocator("10.244.0.0/22", 24)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 4; i++ {
		p, err := a.Next()
		if err != nil {
			t.Fatalf("Next #%d: %v", i, err)
		}
		got = append(got, p.String())
	}
	if want := "10.244.0.0/24 10.244.1.0/24 10.244.2.0/24 10.244.3.0/24"; strings.Join(got, " ") != want {
		t.Errorf("subnets = %v, want %s", got, want)
	}
	if _, err := a.Next(); !errors.Is(err, ErrFull) {
		t.Errorf("Next on a full range: %v, want ErrFull", err)
	}
	a.Release(netip.MustParsePrefix("10.244.2.0/24"))
	if p, err := a.Next(); err != nil || p.String() != "10.244.2.0/24" {
		t.Errorf("Next after releasing 10.244.2.0/24 = %v, %v", p, err)
	}
	if err := a.Occupy(netip.MustParsePrefix("10.244.1.0/24")); err == nil {
		t.Error("Occupy of a used subnet succeeded")
	}
	for _, bad := range []string{"10.245.0.0/24", "10.244.0.0/25", "10.244.0.128/24"} {
		if err := a.Occupy(netip.MustParsePrefix(bad)); err == nil {
			t.Errorf("Occupy(%s) succeeded", bad)
		}
	}
	if a.Used() != 4 || a.Free() != 0 {
		t.Errorf("Used/Free = %d/%d, want 4/0", a.Used(), a.Free())
	}
}

func TestAllocatorRejectsBadSettings(t *testing.T) {
	for _, c := range []struct {
		cidr string
		mask int
	}{{"10.244.0.0/16", 16}, {"10.244.0.0/16", 33}, {"10.0.0.0/8", 25}, {"nonsense", 24}} {
		if _, err := NewAllocator(c.cidr, c.mask); err == nil {
			t.Errorf("NewAllocator(%s, %d) succeeded", c.cidr, c.mask)
		}
	}
	a, err := NewAllocator("fd00:10::/48", 64)
	if err != nil {
		t.Fatal(err)
	}
	a.Next()
	if p, _ := a.Next(); p.String() != "fd00:10:0:1::/64" {
		t.Errorf("second IPv6 subnet = %s", p)
	}
}

// env runs a controller over a fake API until the test ends.
type env struct {
	t        *testing.T
	client   kubernetes.Interface
	recorder *record.FakeRecorder
	cancel   context.CancelFunc
	done     chan struct{}
}

func start(t *testing.T, client kubernetes.Interface, cidr string) *env {
	t.Helper()
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(100)
	c, err := New(controller.Context{Logger: logtest.New(t), Client: client, Informers: factory,
		Recorder: func(string) record.EventRecorder { return rec },
		Options:  controller.Options{ClusterCIDR: cidr, NodeCIDRMaskSize: 24}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{t: t, client: client, recorder: rec, cancel: cancel, done: make(chan struct{})}
	factory.Start(ctx.Done())
	go func() { defer close(e.done); _ = c.Run(ctx) }()
	t.Cleanup(e.stop)
	return e
}

func (e *env) stop() {
	e.cancel()
	<-e.done
}

func (e *env) addNode(name string) {
	e.t.Helper()
	if _, err := e.client.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// podCIDR waits for the node's podCIDR.
func (e *env) podCIDR(name string) string {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n, err := e.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && n.Spec.PodCIDR != "" {
			if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
				e.t.Errorf("node %s: podCIDRs %v do not match podCIDR %s", name, n.Spec.PodCIDRs, n.Spec.PodCIDR)
			}
			return n.Spec.PodCIDR
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("node %s got no podCIDR", name)
	return ""
}

func TestNodesGetDistinctSubnetsStableAcrossRestart(t *testing.T) {
	client := fake.NewSimpleClientset()
	e := start(t, client, "10.244.0.0/16")
	got := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		e.addNode(n)
	}
	seen := map[string]bool{}
	for _, n := range []string{"a", "b", "c"} {
		got[n] = e.podCIDR(n)
		if seen[got[n]] {
			t.Errorf("subnet %s handed out twice: %v", got[n], got)
		}
		seen[got[n]] = true
		if !netip.MustParsePrefix("10.244.0.0/16").Contains(netip.MustParsePrefix(got[n]).Addr()) || !strings.HasSuffix(got[n], "/24") {
			t.Errorf("node %s subnet %s is not a /24 of 10.244.0.0/16", n, got[n])
		}
	}
	e.stop()

	// A new controller (a restart or another leader) rebuilds the allocation from the Nodes:
	// the old subnets stay, the new node gets a fourth one.
	e2 := start(t, client, "10.244.0.0/16")
	e2.addNode("d")
	d := e2.podCIDR("d")
	if seen[d] {
		t.Errorf("after restart node d got %s, already used: %v", d, got)
	}
	for n, want := range got {
		if have := e2.podCIDR(n); have != want {
			t.Errorf("node %s subnet changed across restart: %s → %s", n, want, have)
		}
	}
}

func TestDeletedNodeReleasesSubnetAndExhaustionEvent(t *testing.T) {
	client := fake.NewSimpleClientset()
	e := start(t, client, "10.244.0.0/23") // room for two /24s
	e.addNode("a")
	e.addNode("b")
	a, b := e.podCIDR("a"), e.podCIDR("b")
	if a == b {
		t.Fatalf("a and b share %s", a)
	}
	e.addNode("c")
	select {
	case ev := <-e.recorder.Events:
		for !strings.Contains(ev, ReasonCIDRNotAvailable) {
			ev = <-e.recorder.Events
		}
		if !strings.HasPrefix(ev, "Warning") {
			t.Errorf("event %q is not a warning", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no CIDRNotAvailable event for the third node")
	}
	if n, _ := client.CoreV1().Nodes().Get(context.Background(), "c", metav1.GetOptions{}); n.Spec.PodCIDR != "" {
		t.Fatalf("node c got %s from a full range", n.Spec.PodCIDR)
	}
	// Deleting a frees its subnet; the waiting node c gets it.
	if err := client.CoreV1().Nodes().Delete(context.Background(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := e.podCIDR("c"); c != a {
		t.Errorf("node c got %s, want the released %s", c, a)
	}
}

func TestNoneTurnsAllocationOff(t *testing.T) {
	client := fake.NewSimpleClientset()
	e := start(t, client, "none")
	e.addNode("a")
	time.Sleep(300 * time.Millisecond)
	if n, _ := client.CoreV1().Nodes().Get(context.Background(), "a", metav1.GetOptions{}); n.Spec.PodCIDR != "" {
		t.Errorf("with --cluster-cidr none node a got %s", n.Spec.PodCIDR)
	}
}

// A Node that arrives with a podCIDR already set (re-created from a manifest) has that subnet
// marked as used: the next node does not get it.
func TestPresetPodCIDRIsNeverHandedOutAgain(t *testing.T) {
	client := fake.NewSimpleClientset()
	e := start(t, client, "10.244.0.0/16")
	e.addNode("a")
	first := e.podCIDR("a")
	// b comes with the subnet the allocator would hand out next.
	next := netip.MustParsePrefix(first)
	next = netip.PrefixFrom(next.Addr().Next(), 24)
	for range 255 {
		next = netip.PrefixFrom(next.Addr().Next(), 24)
	}
	next = next.Masked()
	if _, err := client.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "b"},
		Spec: corev1.NodeSpec{PodCIDR: next.String(), PodCIDRs: []string{next.String()}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the controller see b
	e.addNode("c")
	if c := e.podCIDR("c"); c == next.String() || c == first {
		t.Errorf("node c got %s; a has %s and b came with %s", c, first, next)
	}
}

// warnCounter counts the log records at warning level or above.
type warnCounter struct {
	mu sync.Mutex
	n  int
}

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnCounter) Handle(context.Context, slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	return nil
}
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }

// TestFullRangeWarnsOnce: nodes beyond a full cluster CIDR get one CIDRNotAvailable event and
// one warning each, however often they are synced again (their status updates requeue them)
// and when a released subnet goes to another waiting node.
func TestFullRangeWarnsOnce(t *testing.T) {
	ctx := context.Background()
	client := fake.NewSimpleClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(100)
	warns := &warnCounter{}
	c, err := New(controller.Context{Logger: slog.New(warns), Client: client, Informers: factory,
		Recorder: func(string) record.EventRecorder { return rec },
		Options:  controller.Options{ClusterCIDR: "10.244.0.0/23", NodeCIDRMaskSize: 24}}) // room for two
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	names := []string{"a", "b", "c", "d"}
	for _, n := range names {
		if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitLister := func(name string, present bool) {
		t.Helper()
		for i := 0; ; i++ {
			_, err := c.nodes.Get(name)
			if (err == nil) == present {
				return
			}
			if i > 1000 {
				t.Fatalf("node %s never present=%v in the lister", name, present)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, n := range names {
		waitLister(n, true)
	}
	for round := 0; round < 5; round++ { // the first sync and four resyncs
		for _, n := range names {
			if err := c.Sync(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	// a goes: its subnet is handed to c or d; the other waits on, not warned again.
	if err := client.CoreV1().Nodes().Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLister("a", false)
	if err := c.Sync(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		for _, n := range []string{"c", "d"} {
			if err := c.Sync(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(rec.Events)
	notAvailable := 0
	for ev := range rec.Events {
		if strings.Contains(ev, ReasonCIDRNotAvailable) {
			notAvailable++
			if !strings.HasPrefix(ev, "Warning") || !strings.Contains(ev, "--node-cidr-mask-size") {
				t.Errorf("event %q: want a warning with size guidance", ev)
			}
		}
	}
	if notAvailable != 2 {
		t.Errorf("%d CIDRNotAvailable events for the two nodes beyond the range, want 2", notAvailable)
	}
	if warns.n != 2 {
		t.Errorf("%d warnings logged, want 2 (one per node beyond the range)", warns.n)
	}
	got := 0
	for _, n := range []string{"c", "d"} {
		if node, _ := client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{}); node.Spec.PodCIDR != "" {
			got++
		}
	}
	if got != 1 {
		t.Errorf("%d of c, d got a subnet after a was deleted, want 1", got)
	}
}
