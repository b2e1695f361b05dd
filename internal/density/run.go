package density

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

const (
	labelRun   = "density.drover.io/run"
	labelProbe = "density.drover.io/probe"
	labelRC    = "density.drover.io/rc"
	// labelLatency marks the latency pods (not labelRun: the saturation watch does not see them).
	labelLatency = "density.drover.io/latency"
	leaseNS      = "kube-node-lease"
	pauseImage   = "registry.k8s.io/pause:3.10"
)

// Result is what one step measured.
type Result struct {
	Step string
	// Nodes Ready, and how long after the driver started they all were.
	Nodes        int
	NodesReadyIn time.Duration
	// Stale node Leases (renewTime older than Config.StaleLease) when the nodes were Ready,
	// the most seen while pods were created, and at the end; Leases is how many there were.
	StaleAtReady, StaleMax, StaleEnd, Leases int
	// Expected saturation pods (the RCs' and the bare ones), Running ones seen through the
	// watch, over Duration (from the first create to the last pod seen Running, or to the
	// timeout when not Finished).
	Expected, Running int
	Duration          time.Duration
	Finished          bool
	// PodTimes are the saturation pods' startups. Created as fast as the API server takes
	// them, they queue for the scheduler and the node agents: this measures throughput.
	PodTimes
	// LatencyExpected latency pods were created after the saturation pods all ran, one every
	// Config.LatencyInterval, as Kubernetes' density test does to check its pod startup SLO
	// (p99 ≤ 5 s, creation → Running seen by a watch, in a saturated cluster);
	// LatencyRunning of them were seen Running (LatencyFinished: all, within the pod timeout).
	// LatencySkipped says why there were none.
	LatencyExpected, LatencyRunning int
	LatencyFinished                 bool
	LatencySkipped                  string
	Latency                         PodTimes
	// LatencyCPU is the CPU the server, the hollow node processes together and the driver
	// used during the latency phase, in cores (CPU seconds over the phase's seconds; -1: not
	// known).
	LatencyCPU struct{ Server, Nodes, Driver float64 }
	// API call latencies, sampled through both phases.
	Get, Create, ListNS, ListAll *Samples
	// Server: its /proc figures at the end (0s without Config.ServerPID); ServerCPU the CPU
	// seconds it used from the first create to the last saturation pod Running.
	Server    procUsage
	ServerCPU float64
	// NodeRSS is the hollow node processes' RSS together at the end, NodePIDs how many.
	NodeRSS  int64
	NodePIDs int
	// StateDB is the store file's size in bytes (-1: none given).
	StateDB int64
	// Load is /proc/loadavg's 1, 5 and 15 minute averages at the end.
	Load string
}

type podRef struct{ ns, name string }

type runner struct {
	cfg    Config
	client kubernetes.Interface
	log    *slog.Logger
	runID  string
	nss    []string

	// sat follows the saturation pods, lat the latency pods.
	sat, lat *tracker
	// latencyRequests are the latency pods' requests (a fifth of a node's allocatable, as
	// Kubernetes' density test asks, so they spread over the nodes).
	latencyRequests corev1.ResourceList

	rcsCreated  atomic.Int64
	bareCreated atomic.Int64
	latCreated  atomic.Int64
	createErrs  atomic.Int64
	staleMax    atomic.Int64

	res Result
}

// Run runs one step against client and writes its results row (markdown) to out; progress
// goes to log.
func Run(ctx context.Context, cfg Config, client kubernetes.Interface, log *slog.Logger, out io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &runner{
		cfg: cfg, client: client, log: log,
		runID: strconv.FormatInt(time.Now().Unix(), 36),
		sat:   newTracker(),
		lat:   newTracker(),
		res: Result{Step: cfg.Step, Nodes: cfg.Nodes, Expected: cfg.Pods + cfg.BarePods, StateDB: -1,
			Get: &Samples{}, Create: &Samples{}, ListNS: &Samples{}, ListAll: &Samples{}},
	}
	if err := r.run(ctx); err != nil {
		return nil, err
	}
	if cfg.Header {
		fmt.Fprint(out, Header())
	}
	fmt.Fprintln(out, r.res.Row())
	return &r.res, nil
}

func (r *runner) run(ctx context.Context) error {
	start := time.Now()
	if err := r.waitNodes(ctx, start); err != nil {
		return err
	}
	r.res.NodesReadyIn = time.Since(start)
	stale, leases, err := r.staleLeases(ctx)
	if err != nil {
		return err
	}
	r.res.StaleAtReady, r.res.Leases = stale, leases
	r.log.Info("nodes Ready", "nodes", r.cfg.Nodes, "after", r.res.NodesReadyIn.Round(time.Second), "leases", leases, "stale", stale)

	if err := r.makeNamespaces(ctx); err != nil {
		return err
	}
	wctx, stopWatches := context.WithCancel(ctx)
	defer stopWatches()
	var watches sync.WaitGroup
	defer watches.Wait()
	defer stopWatches()
	if err := r.startWatch(wctx, &watches, labelRun+"="+r.runID, r.sat); err != nil {
		return err
	}

	var cpu0 float64
	if r.cfg.ServerPID > 0 {
		u, err := readProc(r.cfg.ServerPID)
		if err != nil {
			return fmt.Errorf("--server-pid: %w", err)
		}
		cpu0 = u.CPU
	}
	t0 := time.Now()
	pctx, stopProbes := context.WithCancel(ctx)
	var probes sync.WaitGroup
	defer probes.Wait()
	defer stopProbes()
	for _, f := range []func(context.Context){r.probeGet, r.probeCreate, r.probeListNS, r.probeListAll, r.sampleLeases} {
		probes.Add(1)
		go func() {
			defer probes.Done()
			f(pctx)
		}()
	}
	probes.Add(1)
	go func() {
		defer probes.Done()
		r.progress(pctx, t0)
	}()

	// Saturation: every pod created as fast as the server takes them.
	createErr := make(chan error, 1)
	go func() { createErr <- r.createPods(pctx) }()
	finished, err := r.waitRunning(ctx, r.sat, r.res.Expected, t0, createErr)
	if err != nil {
		return err
	}
	r.res.Finished = finished
	var last time.Time
	r.res.PodTimes, r.res.Running, last = r.sat.result()
	if finished && !last.IsZero() {
		r.res.Duration = last.Sub(t0)
	} else {
		r.res.Duration = time.Since(t0)
	}
	if r.cfg.ServerPID > 0 {
		u, err := readProc(r.cfg.ServerPID)
		if err != nil {
			return fmt.Errorf("--server-pid: %w", err)
		}
		r.res.ServerCPU = u.CPU - cpu0
	}
	r.log.Info("saturation done", "step", r.cfg.Step, "running", r.res.Running, "expected", r.res.Expected,
		"in", r.res.Duration.Round(100*time.Millisecond), "finished", finished, "create-errors", r.createErrs.Load())

	// Latency: pods one at a time into the saturated cluster (Kubernetes' density test).
	if err := r.latencyPhase(ctx, wctx, &watches, finished); err != nil {
		return err
	}
	stopProbes()
	probes.Wait()
	stopWatches()
	watches.Wait()

	r.res.StaleMax = int(r.staleMax.Load())
	if r.res.StaleEnd, r.res.Leases, err = r.staleLeases(ctx); err != nil {
		return err
	}
	r.res.StaleMax = max(r.res.StaleMax, r.res.StaleEnd)
	if r.cfg.ServerPID > 0 {
		if r.res.Server, err = readProc(r.cfg.ServerPID); err != nil {
			return fmt.Errorf("--server-pid: %w", err)
		}
	}
	for _, pid := range r.cfg.NodePIDs {
		u, err := readProc(pid)
		if err != nil {
			return fmt.Errorf("--node-pids: %w", err)
		}
		r.res.NodeRSS += u.RSS
		r.res.NodePIDs++
	}
	if r.cfg.StateDB != "" {
		fi, err := os.Stat(r.cfg.StateDB)
		if err != nil {
			return fmt.Errorf("--state-db: %w", err)
		}
		r.res.StateDB = fi.Size()
	}
	r.res.Load = loadAverage()
	r.sat.mu.Lock()
	relists := r.sat.relists + r.lat.relists
	r.sat.mu.Unlock()
	r.log.Info("step done", "step", r.cfg.Step, "running", r.res.Running, "expected", r.res.Expected,
		"latency-running", r.res.LatencyRunning, "latency-expected", r.res.LatencyExpected,
		"create-errors", r.createErrs.Load(), "watch-relists", relists)
	if r.cfg.Cleanup {
		r.cleanup(ctx)
	}
	return nil
}

// startWatch starts following the pods sel selects into t (until ctx ends) and returns once
// its first list is done.
func (r *runner) startWatch(ctx context.Context, wg *sync.WaitGroup, sel string, t *tracker) error {
	synced := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.watchPods(ctx, sel, t, synced)
	}()
	select {
	case <-synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// latencyPhase creates the latency pods, one every LatencyInterval, once the saturation pods
// all run (saturated), and waits for them to be Running, as Kubernetes' density test does
// ("Scheduling additional Pods to measure startup latencies": one pod per node, ~5 pods/s,
// each requesting a fifth of a node's allocatable so they spread; its pod startup SLO is
// checked on these pods).
func (r *runner) latencyPhase(ctx, wctx context.Context, watches *sync.WaitGroup, saturated bool) error {
	n := r.cfg.latencyPods()
	switch {
	case n == 0:
		r.res.LatencySkipped = "--latency-pods 0"
		return nil
	case !saturated:
		r.res.LatencySkipped = "saturation pods not all Running"
		r.log.Warn("latency pods not created: not every saturation pod is Running", "running", r.res.Running, "expected", r.res.Expected)
		return nil
	}
	r.res.LatencyExpected = n
	if err := r.startWatch(wctx, watches, labelLatency+"="+r.runID, r.lat); err != nil {
		return err
	}
	cpu0 := r.cpuNow()
	t0 := time.Now()
	r.log.Info("creating latency pods", "pods", n, "every", r.cfg.LatencyInterval)
	cctx, stopCreates := context.WithCancel(ctx)
	defer stopCreates()
	createErr := make(chan error, 1)
	go func() { createErr <- r.createLatencyPods(cctx, n) }()
	finished, err := r.waitRunning(ctx, r.lat, n, t0, createErr)
	if err != nil {
		return err
	}
	r.res.LatencyFinished = finished
	r.res.Latency, r.res.LatencyRunning, _ = r.lat.result()
	cpu1, secs := r.cpuNow(), time.Since(t0).Seconds()
	cores := func(a, b float64) float64 {
		if a < 0 || b < 0 || secs <= 0 {
			return -1
		}
		return (b - a) / secs
	}
	r.res.LatencyCPU.Server = cores(cpu0[0], cpu1[0])
	r.res.LatencyCPU.Nodes = cores(cpu0[1], cpu1[1])
	r.res.LatencyCPU.Driver = cores(cpu0[2], cpu1[2])
	return nil
}

// cpuNow is the CPU seconds the server, the hollow node processes (together) and this process
// have used so far (-1 where not known).
func (r *runner) cpuNow() [3]float64 {
	out := [3]float64{-1, -1, -1}
	if r.cfg.ServerPID > 0 {
		if u, err := readProc(r.cfg.ServerPID); err == nil {
			out[0] = u.CPU
		}
	}
	if len(r.cfg.NodePIDs) > 0 {
		out[1] = 0
		for _, pid := range r.cfg.NodePIDs {
			u, err := readProc(pid)
			if err != nil {
				out[1] = -1
				break
			}
			out[1] += u.CPU
		}
	}
	if u, err := readProc(os.Getpid()); err == nil {
		out[2] = u.CPU
	}
	return out
}

// createLatencyPods creates n latency pods, one every LatencyInterval, each create in its own
// goroutine (a slow create does not hold back the next, as in Kubernetes' test).
func (r *runner) createLatencyPods(ctx context.Context, n int) error {
	g, gctx := errgroup.WithContext(ctx)
	tick := time.NewTicker(r.cfg.LatencyInterval)
	defer tick.Stop()
	for i := range n {
		if i > 0 {
			select {
			case <-gctx.Done():
				return g.Wait()
			case <-tick.C:
			}
		}
		ns := r.nss[i%len(r.nss)]
		pod := r.pod(ns, fmt.Sprintf("latency-%d", i), map[string]string{labelLatency: r.runID})
		pod.Spec.Containers[0].Resources.Requests = r.latencyRequests
		g.Go(func() error {
			if err := retryCreate(gctx, func(ctx context.Context) error {
				_, err := r.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
				return err
			}, &r.createErrs); err != nil {
				return fmt.Errorf("creating latency pod %s/%s: %w", ns, pod.Name, err)
			}
			r.latCreated.Add(1)
			return nil
		})
	}
	return g.Wait()
}

// waitNodes waits until cfg.Nodes nodes are Ready.
func (r *runner) waitNodes(ctx context.Context, start time.Time) error {
	deadline := start.Add(r.cfg.NodeTimeout)
	lastLog := time.Time{}
	for {
		list, err := r.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		ready := 0
		if err == nil {
			for i := range list.Items {
				if nodeReady(&list.Items[i]) {
					ready++
				}
			}
			if ready >= r.cfg.Nodes {
				r.latencyRequests = latencyRequests(list.Items, r.cfg.Pods+r.cfg.BarePods, r.cfg.Nodes)
				return nil
			}
		}
		if time.Since(lastLog) >= r.cfg.ProgressInterval {
			lastLog = time.Now()
			if err != nil {
				r.log.Info("waiting for nodes", "after", time.Since(start).Round(time.Second), "err", err)
			} else {
				r.log.Info("waiting for nodes", "ready", ready, "want", r.cfg.Nodes, "registered", len(list.Items), "after", time.Since(start).Round(time.Second))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes Ready after --node-timeout %s", ready, r.cfg.Nodes, r.cfg.NodeTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// latencyRequests are what each latency pod requests: a fifth of the smallest Ready node's
// allocatable CPU and memory, as Kubernetes' density test asks "to trigger increasing priority
// function by scheduling a pod to a node, which in turn will result in spreading latency pods
// more evenly between nodes"; nothing when the saturation puts more than 30 pods on a node
// (its rule, so they fit at higher densities) or no node reports allocatable.
func latencyRequests(nodes []corev1.Node, pods, nodeCount int) corev1.ResourceList {
	if nodeCount > 0 && pods/nodeCount > 30 {
		return nil
	}
	var cpu, mem *resource.Quantity
	for i := range nodes {
		n := &nodes[i]
		if !nodeReady(n) {
			continue
		}
		c, m := n.Status.Allocatable.Cpu(), n.Status.Allocatable.Memory()
		if c.IsZero() || m.IsZero() {
			return nil
		}
		if cpu == nil || c.Cmp(*cpu) < 0 {
			cpu = c
		}
		if mem == nil || m.Cmp(*mem) < 0 {
			mem = m
		}
	}
	if cpu == nil {
		return nil
	}
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(cpu.MilliValue()/5, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(mem.Value()/5, resource.BinarySI),
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// staleLeases counts the node Leases not renewed within cfg.StaleLease, and all of them.
func (r *runner) staleLeases(ctx context.Context) (stale, all int, err error) {
	list, err := r.client.CoordinationV1().Leases(leaseNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, 0, fmt.Errorf("listing node Leases: %w", err)
	}
	now := time.Now()
	for _, l := range list.Items {
		if l.Spec.RenewTime == nil || now.Sub(l.Spec.RenewTime.Time) > r.cfg.StaleLease {
			stale++
		}
	}
	return stale, len(list.Items), nil
}

// makeNamespaces creates the test namespaces and waits for their default ServiceAccounts
// (pods are refused until it exists).
func (r *runner) makeNamespaces(ctx context.Context) error {
	n := namespaces(r.cfg.Pods, r.cfg.RCReplicas, r.cfg.PodsPerNamespace)
	for i := range n {
		name := fmt.Sprintf("%s-%d", r.cfg.NamespacePrefix, i)
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{labelRun: r.runID}}}
		if _, err := r.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("namespace %s exists already: delete it or choose another --namespace-prefix", name)
			}
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
		r.nss = append(r.nss, name)
	}
	for _, ns := range r.nss {
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, err := r.client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("namespace %s: no default ServiceAccount after 60 s: %w", ns, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	r.log.Info("namespaces ready", "namespaces", len(r.nss))
	return nil
}

// watchPods follows the pods sel selects (all namespaces) and records each one's startup in t
// the first time it is seen Running. synced is closed after the first list.
func (r *runner) watchPods(ctx context.Context, sel string, t *tracker, synced chan<- struct{}) {
	pods := r.client.CoreV1().Pods(metav1.NamespaceAll)
	rv := ""
	first := true
	for ctx.Err() == nil {
		if rv == "" {
			list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				r.log.Warn("listing pods for the watch", "err", err)
				sleep(ctx, time.Second)
				continue
			}
			for i := range list.Items {
				t.observe(&list.Items[i], time.Time{})
			}
			rv = list.ResourceVersion
			if first {
				close(synced)
				first = false
			} else {
				t.mu.Lock()
				t.relists++
				t.mu.Unlock()
			}
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = ""
			}
			if ctx.Err() == nil {
				r.log.Warn("watching pods", "err", err)
			}
			sleep(ctx, time.Second)
			continue
		}
		rv = r.drain(ctx, w, rv, t)
		w.Stop()
	}
}

// drain handles one watch's events until it ends; it returns the resourceVersion to resume
// from ("": list again).
func (r *runner) drain(ctx context.Context, w watch.Interface, rv string, t *tracker) string {
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Error:
			if ctx.Err() != nil {
				return rv
			}
			err := apierrors.FromObject(ev.Object)
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				return ""
			}
			r.log.Warn("pod watch error", "err", err)
			return rv
		case watch.Bookmark:
			if p, ok := ev.Object.(*corev1.Pod); ok {
				rv = p.ResourceVersion
			}
		default:
			if p, ok := ev.Object.(*corev1.Pod); ok {
				rv = p.ResourceVersion
				if ev.Type != watch.Deleted {
					t.observe(p, time.Now())
				}
			}
		}
	}
	return rv
}

// createPods creates the RCs, then the bare pods in bursts.
func (r *runner) createPods(ctx context.Context) error {
	sizes := rcSizes(r.cfg.Pods, r.cfg.RCReplicas)
	perNS := max(r.cfg.PodsPerNamespace/r.cfg.RCReplicas, 1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.cfg.CreateWorkers)
	for i, n := range sizes {
		ns := r.nss[min(i/perNS, len(r.nss)-1)]
		name := fmt.Sprintf("density-%d", i)
		g.Go(func() error {
			rc := r.rc(ns, name, int32(n))
			if err := retryCreate(gctx, func(ctx context.Context) error {
				_, err := r.client.CoreV1().ReplicationControllers(ns).Create(ctx, rc, metav1.CreateOptions{})
				return err
			}, &r.createErrs); err != nil {
				return fmt.Errorf("creating RC %s/%s: %w", ns, name, err)
			}
			r.rcsCreated.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(sizes) > 0 {
		r.log.Info("RCs created", "rcs", len(sizes), "pods", r.cfg.Pods)
	}
	for b := 0; b < r.cfg.BarePods; b += r.cfg.BurstSize {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(r.cfg.CreateWorkers)
		for i := b; i < min(b+r.cfg.BurstSize, r.cfg.BarePods); i++ {
			ns := r.nss[i%len(r.nss)]
			pod := r.pod(ns, fmt.Sprintf("bare-%d", i), map[string]string{labelRun: r.runID})
			g.Go(func() error {
				if err := retryCreate(gctx, func(ctx context.Context) error {
					_, err := r.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
					return err
				}, &r.createErrs); err != nil {
					return fmt.Errorf("creating pod %s/%s: %w", ns, pod.Name, err)
				}
				r.bareCreated.Add(1)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return nil
}

// retryCreate calls create until it succeeds, exists already (a retried create that went
// through), fails other than by overload or a timeout, or ctx ends; errs counts the retries.
func retryCreate(ctx context.Context, create func(context.Context) error, errs *atomic.Int64) error {
	for {
		err := create(ctx)
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !apierrors.IsTooManyRequests(err) && !apierrors.IsServerTimeout(err) && !apierrors.IsTimeout(err) &&
			!apierrors.IsServiceUnavailable(err) && !apierrors.IsInternalError(err) {
			return err
		}
		errs.Add(1)
		sleep(ctx, time.Second)
	}
}

func (r *runner) podSpec() corev1.PodSpec {
	zero := int64(0)
	return corev1.PodSpec{
		TerminationGracePeriodSeconds: &zero,
		Containers: []corev1.Container{{
			Name: "pause", Image: pauseImage, ImagePullPolicy: corev1.PullIfNotPresent,
		}},
	}
}

func (r *runner) pod(ns, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Spec: r.podSpec()}
}

func (r *runner) rc(ns, name string, replicas int32) *corev1.ReplicationController {
	labels := map[string]string{labelRun: r.runID, labelRC: name}
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: labels,
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: r.podSpec()},
		},
	}
}

// waitRunning waits until t saw expected pods Running (true), or the pod timeout from t0
// (false); an error of the creates ends it with that error.
func (r *runner) waitRunning(ctx context.Context, t *tracker, expected int, t0 time.Time, createErr <-chan error) (bool, error) {
	deadline := time.NewTimer(time.Until(t0.Add(r.cfg.PodTimeout)))
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, running := t.counts(); running >= expected {
			return true, nil
		}
		select {
		case err := <-createErr:
			if err != nil {
				return false, err
			}
			createErr = nil
		case <-deadline.C:
			_, running := t.counts()
			r.log.Warn("pod timeout: not all pods Running", "running", running, "expected", expected, "timeout", r.cfg.PodTimeout)
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
			if r.cfg.ServerPID > 0 && exited(r.cfg.ServerPID) {
				_, running := t.counts()
				return false, fmt.Errorf("the API server (--server-pid %d) exited with %d of %d pods Running", r.cfg.ServerPID, running, expected)
			}
		}
	}
}

// progress logs a line every ProgressInterval until ctx ends.
func (r *runner) progress(ctx context.Context, t0 time.Time) {
	tick := time.NewTicker(r.cfg.ProgressInterval)
	defer tick.Stop()
	prevRunning, prevT := 0, t0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			seen, running := r.sat.counts()
			args := []any{
				"after", now.Sub(t0).Round(time.Second),
				"rcs", r.rcsCreated.Load(), "bare", r.bareCreated.Load(),
				"seen", seen, "running", running, "expected", r.res.Expected,
				"running/s", fmt.Sprintf("%.1f", rate(running-prevRunning, now.Sub(prevT))),
			}
			if n := r.latCreated.Load(); n > 0 {
				_, latRunning := r.lat.counts()
				args = append(args, "latency-created", n, "latency-running", latRunning)
			}
			if d, _ := r.res.Create.Snapshot(); len(d) > 0 {
				args = append(args, "create-p99", fmtMS(Percentile(d, 99)))
			}
			if d, _ := r.res.ListAll.Snapshot(); len(d) > 0 {
				args = append(args, "list-all-p99", fmtMS(Percentile(d, 99)))
			}
			if r.cfg.ServerPID > 0 {
				if u, err := readProc(r.cfg.ServerPID); err == nil {
					args = append(args, "server-rss", fmtMB(u.RSS))
				}
			}
			args = append(args, "stale-leases-max", r.staleMax.Load(), "load", loadAverage())
			r.log.Info("progress", args...)
			prevRunning, prevT = running, now
		}
	}
}

// every calls f, then waits interval, until ctx ends.
func every(ctx context.Context, interval time.Duration, f func(context.Context)) {
	for ctx.Err() == nil {
		f(ctx)
		sleep(ctx, interval)
	}
}

// timed runs call and records its latency in s (a failure as such; calls cut short because ctx
// ended are not recorded).
func timed(ctx context.Context, s *Samples, call func(context.Context) error) {
	start := time.Now()
	err := call(ctx)
	d := time.Since(start)
	switch {
	case err == nil:
		s.Add(d)
	case ctx.Err() != nil:
	default:
		s.Fail()
	}
}

func (r *runner) randomPod() (podRef, bool) { return r.sat.randomRef(rand.IntN) }

// probeGet samples GET of a random test pod (one the watch has seen).
func (r *runner) probeGet(ctx context.Context) {
	every(ctx, r.cfg.ProbeInterval, func(ctx context.Context) {
		ref, ok := r.randomPod()
		if !ok {
			return
		}
		timed(ctx, r.res.Get, func(ctx context.Context) error {
			_, err := r.client.CoreV1().Pods(ref.ns).Get(ctx, ref.name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil // a bare pod's or an RC's pod replaced: still a served GET
			}
			return err
		})
	})
}

// probeCreate samples CREATE of a bare pod outside the measured ones, deleted (not timed)
// right after.
func (r *runner) probeCreate(ctx context.Context) {
	n := 0
	every(ctx, r.cfg.ProbeInterval, func(ctx context.Context) {
		n++
		ns := r.nss[n%len(r.nss)]
		pod := r.pod(ns, fmt.Sprintf("probe-%s-%d", r.runID, n), map[string]string{labelProbe: r.runID})
		var created bool
		timed(ctx, r.res.Create, func(ctx context.Context) error {
			_, err := r.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			created = err == nil
			return err
		})
		if created {
			zero := int64(0)
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := r.client.CoreV1().Pods(ns).Delete(dctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
				r.log.Warn("deleting probe pod", "pod", ns+"/"+pod.Name, "err", err)
			}
		}
	})
}

// probeListNS samples LIST of one test namespace's pods.
func (r *runner) probeListNS(ctx context.Context) {
	n := 0
	every(ctx, r.cfg.ListInterval, func(ctx context.Context) {
		ns := r.nss[n%len(r.nss)]
		n++
		timed(ctx, r.res.ListNS, func(ctx context.Context) error { return r.listPods(ctx, ns) })
	})
}

// probeListAll samples LIST of every pod of the cluster.
func (r *runner) probeListAll(ctx context.Context) {
	every(ctx, r.cfg.ListInterval, func(ctx context.Context) {
		timed(ctx, r.res.ListAll, func(ctx context.Context) error { return r.listPods(ctx, metav1.NamespaceAll) })
	})
}

// listPods lists the pods of ns (all: "") and reads the whole answer without decoding it: a
// LIST's latency is the server's, until its last byte is received, as Kubernetes measures API
// calls at the API server (apiserver_request_duration_seconds includes writing the response).
// Decoding 60,000 pods every few seconds cost the driver most of its CPU, taken from the
// server it measures on the same two cores.
func (r *runner) listPods(ctx context.Context, ns string) error {
	body, err := r.client.CoreV1().RESTClient().Get().Namespace(ns).Resource("pods").Stream(ctx)
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(io.Discard, body)
	return err
}

// sampleLeases keeps the most stale node Leases seen.
func (r *runner) sampleLeases(ctx context.Context) {
	every(ctx, 10*time.Second, func(ctx context.Context) {
		stale, _, err := r.staleLeases(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("sampling Leases", "err", err)
			}
			return
		}
		for {
			cur := r.staleMax.Load()
			if int64(stale) <= cur || r.staleMax.CompareAndSwap(cur, int64(stale)) {
				break
			}
		}
	})
}

// cleanup deletes the test namespaces (their pods go with them, in the background).
func (r *runner) cleanup(ctx context.Context) {
	var errs []error
	for _, ns := range r.nss {
		if err := r.client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		r.log.Warn("deleting the test namespaces", "err", err)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
