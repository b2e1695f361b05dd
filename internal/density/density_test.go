package density

import (
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentileNearestRank(t *testing.T) {
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, ms(i))
	}
	ten := hundred[:10]
	for _, c := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", []time.Duration{ms(7)}, 99, ms(7)},
		{"p50 of 100", hundred, 50, ms(50)},
		{"p90 of 100", hundred, 90, ms(90)},
		{"p99 of 100", hundred, 99, ms(99)},
		{"p100 of 100", hundred, 100, ms(100)},
		{"tiny p is the smallest", hundred, 0.001, ms(1)},
		{"p50 of 10", ten, 50, ms(5)},
		{"p99 of 10 is the largest", ten, 99, ms(10)},
		{"p90 of 10", ten, 90, ms(9)},
		{"p50 of 3 rounds up", []time.Duration{ms(1), ms(2), ms(3)}, 50, ms(2)},
	} {
		if got := Percentile(c.sorted, c.p); got != c.want {
			t.Errorf("%s: Percentile(p%g) = %s, want %s", c.name, c.p, got, c.want)
		}
	}
}

func TestSamplesSnapshotIsSortedAndCountsFailures(t *testing.T) {
	var s Samples
	for _, d := range []time.Duration{ms(30), ms(10), ms(20)} {
		s.Add(d)
	}
	s.Fail()
	d, errs := s.Snapshot()
	if len(d) != 3 || d[0] != ms(10) || d[1] != ms(20) || d[2] != ms(30) || errs != 1 {
		t.Fatalf("Snapshot = %v, %d failed; want [10ms 20ms 30ms], 1", d, errs)
	}
	s.Add(ms(5))
	if d[0] != ms(10) {
		t.Fatal("a snapshot changed after a later Add")
	}
	// [5 10 20 30]: the p50 is the 2nd by nearest rank.
	if got, want := latencySummary(&s), "10 ms / 30 ms (n=4), 1 failed"; got != want {
		t.Fatalf("latencySummary = %q, want %q", got, want)
	}
	s.Add(1614 * time.Millisecond)
	s.Add(1614 * time.Millisecond)
	if got, want := latencySummary(&s), "20 ms / 1.61 s (n=6), 1 failed"; got != want {
		t.Fatalf("latencySummary = %q, want %q", got, want)
	}
	if got := latencySummary(&Samples{}); got != "—" {
		t.Fatalf("latencySummary of nothing = %q, want —", got)
	}
}

func TestParseFlagsDefaultsAndPIDs(t *testing.T) {
	c, err := ParseFlags([]string{"--kubeconfig", "kc", "--nodes", "100", "--pods", "3000", "--node-pids", "12, 34"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Step != "100/3000" || c.RCReplicas != 30 || len(c.NodePIDs) != 2 || c.NodePIDs[1] != 34 || c.StaleLease != 20*time.Second {
		t.Fatalf("config %+v: want step 100/3000, 30 replicas, pids [12 34], stale Lease 20s", c)
	}
}

func TestParseFlagsRefusesBadFlagsNamingThem(t *testing.T) {
	base := []string{"--kubeconfig", "kc", "--nodes", "10"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--nodes", "10"}, "--kubeconfig"},
		{[]string{"--kubeconfig", "kc"}, "--nodes 0"},
		{append(base, "--pods", "-1"), "--pods -1"},
		{append(base, "--rc-replicas", "0"), "--rc-replicas 0"},
		{append(base, "--bare-pods", "-3"), "--bare-pods -3"},
		{append(base, "--burst-size", "0"), "--burst-size 0"},
		{append(base, "--probe-interval", "0s"), "--probe-interval"},
		{append(base, "--stale-lease", "-1s"), "--stale-lease"},
		{append(base, "--node-pids", "12,x"), "--node-pids"},
		{append(base, "--node-pids", "0"), "--node-pids"},
		{append(base, "--pods-per-namespace", "10"), "--pods-per-namespace 10"},
		{append(base, "--namespace-prefix", "Density"), "--namespace-prefix"},
		{append(base, "--qps", "0"), "--qps"},
		{append(base, "--nodes", "many"), "-nodes"},
		{append(base, "--no-such-flag"), "no-such-flag"},
		{append(base, "stray"), `"stray"`},
	} {
		_, err := ParseFlags(c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseFlags(%q) = %v, want an error naming %s", c.args, err, c.want)
		}
	}
}

func TestRCSizesAndNamespaces(t *testing.T) {
	if s := rcSizes(3010, 30); len(s) != 101 || s[0] != 30 || s[100] != 10 {
		t.Fatalf("rcSizes(3010, 30): %d RCs, first %d, last %d; want 101, 30, 10", len(s), s[0], s[len(s)-1])
	}
	if s := rcSizes(0, 30); len(s) != 0 {
		t.Fatalf("rcSizes(0, 30) = %v, want none", s)
	}
	for _, c := range []struct{ pods, perNS, want int }{
		{0, 3000, 1}, {3000, 3000, 1}, {3010, 3000, 2}, {60000, 3000, 20}, {15000, 3000, 5},
		// whole RCs per namespace: 3,000 pods in 100 RCs, 33 RCs (990 pods) per namespace
		{3000, 1000, 4},
	} {
		if got := namespaces(c.pods, 30, c.perNS); got != c.want {
			t.Errorf("namespaces(%d pods, 30, %d) = %d, want %d", c.pods, c.perNS, got, c.want)
		}
	}
}

func TestProcParsing(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4242 (drover (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 100 0 0"
	cpu, err := statCPUSeconds(stat)
	if err != nil || cpu != 3.25 {
		t.Fatalf("statCPUSeconds = %g, %v; want 3.25 (250 + 75 ticks)", cpu, err)
	}
	if _, err := statCPUSeconds("4242 (drover) S 1"); err == nil {
		t.Fatal("a short stat line was accepted")
	}
	status := "Name:\tdrover\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n"
	if rss, err := statusKB(status, "VmRSS"); err != nil || rss != 100<<20 {
		t.Fatalf("statusKB(VmRSS) = %d, %v; want %d", rss, err, 100<<20)
	}
	if _, err := statusKB(status, "VmSwap"); err == nil {
		t.Fatal("a missing status line was accepted")
	}
}

// exited tells a live process from one that is gone, and from a zombie.
func TestExited(t *testing.T) {
	if exited(os.Getpid()) {
		t.Fatal("this test's own process counts as exited")
	}
	cmd := exec.Command("sleep", "0.1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if exited(pid) {
		t.Fatal("a running child counts as exited")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !exited(pid) { // a zombie until Wait reaps it
		if time.Now().After(deadline) {
			t.Fatal("the child, ended and not reaped, never counts as exited")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Wait()
	if !exited(pid) {
		t.Fatal("a reaped child does not count as exited")
	}
}

func pod(uid string, phase corev1.PodPhase, created time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), Namespace: "ns", Name: uid, CreationTimestamp: metav1.NewTime(created)},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

func TestObserveMeasuresStartupOnceFromWatchEventsOnly(t *testing.T) {
	r := newTracker()
	created := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	r.observe(pod("a", corev1.PodPending, created), created.Add(200*time.Millisecond))
	r.observe(pod("a", corev1.PodRunning, created), created.Add(1500*time.Millisecond))
	r.observe(pod("a", corev1.PodRunning, created), created.Add(9*time.Second)) // a later status update
	// b: first seen Running by a relist (time unknown): Running, but no startup.
	r.observe(pod("b", corev1.PodRunning, created), time.Time{})
	// c: seen Pending by a relist, Running by the watch: a startup, no first-sight figure.
	r.observe(pod("c", corev1.PodPending, created), time.Time{})
	r.observe(pod("c", corev1.PodRunning, created), created.Add(3*time.Second))
	if seen, running := r.counts(); seen != 3 || running != 3 {
		t.Fatalf("counts = %d seen, %d running; want 3, 3", seen, running)
	}
	if st := r.times.Startup; len(st) != 2 || st[0] != 1500*time.Millisecond || st[1] != 3*time.Second {
		t.Fatalf("startup = %v, want [1.5s 3s]", st)
	}
	if fs := r.times.FromSeen; len(fs) != 1 || fs[0] != 1300*time.Millisecond {
		t.Fatalf("first seen → Running = %v, want [1.3s]", fs)
	}
	if len(r.refs) != 3 {
		t.Fatalf("%d pods to GET, want 3", len(r.refs))
	}
}

func TestRowOfAnUnfinishedStep(t *testing.T) {
	res := &Result{
		Step: "100/3000", Nodes: 100, NodesReadyIn: 12 * time.Second, StaleMax: 3, Leases: 100,
		Expected: 3000, Running: 2500, Duration: 100 * time.Second,
		PodTimes:       PodTimes{Startup: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		LatencySkipped: "saturation pods not all Running",
		Get:            &Samples{}, Create: &Samples{}, ListNS: &Samples{}, ListAll: &Samples{},
		NodeRSS: 150e6, NodePIDs: 1, StateDB: -1, Load: "1.00 2.00 3.00",
	}
	row := res.Row()
	for _, want := range []string{"| 100/3000 |", "2500 of 3000 in 100 s (timeout)", "| 25.0 |", "2.0 / 4.0 / 4.0 s",
		"0 / 3 / 0 of 100", "1.50 MB/node (150 MB in 1 processes)", "| 1.00 2.00 3.00 |", "| — (saturation pods not all Running) |"} {
		if !strings.Contains(row, want) {
			t.Errorf("row %s\nlacks %q", row, want)
		}
	}
	if got, want := strings.Count(row, "|"), strings.Count(strings.SplitN(Header(), "\n", 2)[0], "|"); got != want {
		t.Errorf("row has %d cell borders, the header %d", got, want)
	}
}

// A startup is split as in Kubernetes' density test: creation → PodScheduled (the binding) →
// the containers' startedAt (the node agent) → Running seen by the watch; a pod whose status
// lacks a time adds nothing to the phases it bounds.
func TestObserveSplitsStartupIntoPhases(t *testing.T) {
	r := newTracker()
	created := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	a := pod("a", corev1.PodRunning, created)
	a.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(created.Add(9 * time.Second))},
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(created.Add(time.Second))},
	}
	a.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "one", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(created.Add(2 * time.Second))}}},
		{Name: "two", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(created.Add(3 * time.Second))}}},
	}
	r.observe(a, created.Add(4500*time.Millisecond))
	// b: scheduled, but one container not running: no scheduled → started, no started → watch.
	b := pod("b", corev1.PodRunning, created)
	b.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(created.Add(2 * time.Second))}}
	b.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "one", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(created.Add(2 * time.Second))}}},
		{Name: "two", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
	}
	r.observe(b, created.Add(5*time.Second))
	// c: no status times at all.
	r.observe(pod("c", corev1.PodRunning, created), created.Add(5*time.Second))
	want := func(name string, got []time.Duration, want ...time.Duration) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	want("create → scheduled", r.times.CreateToSchedule, time.Second, 2*time.Second)
	want("scheduled → started", r.times.ScheduleToRun, 2*time.Second)
	want("started → watch", r.times.RunToWatch, 1500*time.Millisecond)
	res := &Result{PodTimes: PodTimes{CreateToSchedule: r.times.CreateToSchedule, ScheduleToRun: r.times.ScheduleToRun},
		Get: &Samples{}, Create: &Samples{}, ListNS: &Samples{}, ListAll: &Samples{}, StateDB: -1}
	if row := res.Row(); !strings.Contains(row, "| 1.0, 2.0 / 2.0, 2.0 / — s |") {
		t.Errorf("row %s lacks the phases cell", row)
	}
}
