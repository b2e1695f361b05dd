package density

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

const (
	labelRun   = "density.drover.io/run"
	labelProbe = "density.drover.io/probe"
	labelRC    = "density.drover.io/rc"
	leaseNS    = "kube-node-lease"
	pauseImage = "registry.k8s.io/pause:3.10"
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
	// Expected pods, Running ones seen through the watch, over Duration (from the first
	// create to the last pod seen Running, or to the timeout when not Finished).
	Expected, Running int
	Duration          time.Duration
	Finished          bool
	// Startup are creationTimestamp → Running seen by the watch, sorted. creationTimestamp
	// has whole seconds (as in Kubernetes), so these are up to 1 s long; FromSeen are the
	// same pods' first sight by the watch → Running, sorted (the watch's delay of the first
	// event left out).
	Startup, FromSeen []time.Duration
	// Phases split each startup as Kubernetes' density test does (whole seconds, from the
	// pod's status): creationTimestamp → PodScheduled's lastTransitionTime (the binding),
	// → the last container's state.running.startedAt (the node agent), → Running seen by
	// the watch. A pod whose status lacks a time is left out of the phases it bounds.
	CreateToSchedule, ScheduleToRun, RunToWatch []time.Duration
	Get, Create, ListNS, ListAll                *Samples
	// Server: its /proc figures at the end (0s without Config.ServerPID); ServerCPU the CPU
	// seconds it used from the first create to the end.
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

	mu       sync.Mutex
	seen     map[types.UID]time.Time
	running  map[types.UID]bool
	refs     []podRef
	startup  []time.Duration
	fromSeen []time.Duration
	// the phases of Result.CreateToSchedule, ScheduleToRun, RunToWatch
	createToSchedule, scheduleToRun, runToWatch []time.Duration
	lastRunning                                 time.Time
	relists                                     int

	rcsCreated  atomic.Int64
	bareCreated atomic.Int64
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
		runID:   strconv.FormatInt(time.Now().Unix(), 36),
		seen:    map[types.UID]time.Time{},
		running: map[types.UID]bool{},
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
	synced := make(chan struct{})
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		r.watchPods(wctx, synced)
	}()
	select {
	case <-synced:
	case <-ctx.Done():
		return ctx.Err()
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

	createErr := make(chan error, 1)
	go func() { createErr <- r.createPods(pctx) }()
	finished, err := r.waitRunning(ctx, t0, createErr)
	stopProbes()
	probes.Wait()
	stopWatch()
	<-watchDone
	if err != nil {
		return err
	}

	r.mu.Lock()
	r.res.Running = len(r.running)
	r.res.Startup = append([]time.Duration(nil), r.startup...)
	r.res.FromSeen = append([]time.Duration(nil), r.fromSeen...)
	r.res.CreateToSchedule = append([]time.Duration(nil), r.createToSchedule...)
	r.res.ScheduleToRun = append([]time.Duration(nil), r.scheduleToRun...)
	r.res.RunToWatch = append([]time.Duration(nil), r.runToWatch...)
	last := r.lastRunning
	r.mu.Unlock()
	slices.Sort(r.res.Startup)
	slices.Sort(r.res.FromSeen)
	slices.Sort(r.res.CreateToSchedule)
	slices.Sort(r.res.ScheduleToRun)
	slices.Sort(r.res.RunToWatch)
	r.res.Finished = finished
	if finished && !last.IsZero() {
		r.res.Duration = last.Sub(t0)
	} else {
		r.res.Duration = time.Since(t0)
	}
	r.res.StaleMax = int(r.staleMax.Load())
	if r.res.StaleEnd, r.res.Leases, err = r.staleLeases(ctx); err != nil {
		return err
	}
	r.res.StaleMax = max(r.res.StaleMax, r.res.StaleEnd)
	if r.cfg.ServerPID > 0 {
		if r.res.Server, err = readProc(r.cfg.ServerPID); err != nil {
			return fmt.Errorf("--server-pid: %w", err)
		}
		r.res.ServerCPU = r.res.Server.CPU - cpu0
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
	r.log.Info("step done", "step", r.cfg.Step, "running", r.res.Running, "expected", r.res.Expected,
		"in", r.res.Duration.Round(100*time.Millisecond), "finished", finished, "create-errors", r.createErrs.Load(), "watch-relists", r.relists)
	if r.cfg.Cleanup {
		r.cleanup(ctx)
	}
	return nil
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

// watchPods follows the test's pods (all namespaces, the run's label) and records each one's
// startup the first time it is seen Running. synced is closed after the first list.
func (r *runner) watchPods(ctx context.Context, synced chan<- struct{}) {
	pods := r.client.CoreV1().Pods(metav1.NamespaceAll)
	sel := labelRun + "=" + r.runID
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
				r.observe(&list.Items[i], time.Time{})
			}
			rv = list.ResourceVersion
			if first {
				close(synced)
				first = false
			} else {
				r.mu.Lock()
				r.relists++
				r.mu.Unlock()
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
		rv = r.drain(ctx, w, rv)
		w.Stop()
	}
}

// drain handles one watch's events until it ends; it returns the resourceVersion to resume
// from ("": list again).
func (r *runner) drain(ctx context.Context, w watch.Interface, rv string) string {
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
					r.observe(p, time.Now())
				}
			}
		}
	}
	return rv
}

// observe records pod as seen by a watch event now, or by a list (listed: the zero time):
// its first sight, and its startup when first Running. A pod a (re)list shows Running for the
// first time counts as Running but has no startup (when it started is not known).
func (r *runner) observe(p *corev1.Pod, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first, ok := r.seen[p.UID]
	if !ok {
		r.seen[p.UID] = now
		first = now
		r.refs = append(r.refs, podRef{p.Namespace, p.Name})
	}
	if p.Status.Phase != corev1.PodRunning || r.running[p.UID] {
		return
	}
	r.running[p.UID] = true
	if now.IsZero() {
		return
	}
	r.startup = append(r.startup, now.Sub(p.CreationTimestamp.Time))
	if !first.IsZero() {
		r.fromSeen = append(r.fromSeen, now.Sub(first))
	}
	sched, run := scheduledAt(p), startedAt(p)
	if !sched.IsZero() {
		r.createToSchedule = append(r.createToSchedule, sched.Sub(p.CreationTimestamp.Time))
	}
	if !sched.IsZero() && !run.IsZero() {
		r.scheduleToRun = append(r.scheduleToRun, run.Sub(sched))
	}
	if !run.IsZero() {
		r.runToWatch = append(r.runToWatch, now.Sub(run))
	}
	r.lastRunning = now
}

// scheduledAt is when the pod was bound: its PodScheduled condition's lastTransitionTime.
func scheduledAt(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// startedAt is when the pod's last container started running (zero unless all run).
func startedAt(p *corev1.Pod) time.Time {
	var last time.Time
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running == nil {
			return time.Time{}
		}
		if t := c.State.Running.StartedAt.Time; t.After(last) {
			last = t
		}
	}
	return last
}

func (r *runner) counts() (seen, running int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen), len(r.running)
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

// waitRunning waits until every expected pod was seen Running (true), or the pod timeout
// (false); an error of the creates ends it with that error.
func (r *runner) waitRunning(ctx context.Context, t0 time.Time, createErr <-chan error) (bool, error) {
	deadline := time.NewTimer(time.Until(t0.Add(r.cfg.PodTimeout)))
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, running := r.counts(); running >= r.res.Expected {
			return true, nil
		}
		select {
		case err := <-createErr:
			if err != nil {
				return false, err
			}
			createErr = nil
		case <-deadline.C:
			_, running := r.counts()
			r.log.Warn("pod timeout: not all pods Running", "running", running, "expected", r.res.Expected, "timeout", r.cfg.PodTimeout)
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
			if r.cfg.ServerPID > 0 && exited(r.cfg.ServerPID) {
				_, running := r.counts()
				return false, fmt.Errorf("the API server (--server-pid %d) exited with %d of %d pods Running", r.cfg.ServerPID, running, r.res.Expected)
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
			seen, running := r.counts()
			args := []any{
				"after", now.Sub(t0).Round(time.Second),
				"rcs", r.rcsCreated.Load(), "bare", r.bareCreated.Load(),
				"seen", seen, "running", running, "expected", r.res.Expected,
				"running/s", fmt.Sprintf("%.1f", rate(running-prevRunning, now.Sub(prevT))),
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

func (r *runner) randomPod() (podRef, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refs) == 0 {
		return podRef{}, false
	}
	return r.refs[rand.IntN(len(r.refs))], true
}

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
