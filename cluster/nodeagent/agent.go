// Package nodeagent is drover's kubelet: it registers its Node, renews its Lease, and turns
// the pods bound to it into containers through a container.Runtime, keeping them as their spec
// says (restart policy with back-off, probes, volumes, graceful termination) and reporting
// their status. Every container carries labels naming its pod, so a restarted agent adopts
// what runs and removes what no pod owns.
//
// Each pod has a podWorker (podworker.go) holding what the agent knows of it; a queue runs one
// sync of a pod at a time, in steps: node images, volumes, infra container, service
// environment, init containers, app containers, status. The probe manager (probes.go) only
// reports results; the pod worker acts on them.
package nodeagent

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/probe"
	"github.com/drover-ci/drover/cluster/volume"
)

// Volumes prepares and removes pod volumes on the host (*volume.Manager).
type Volumes interface {
	Setup(ctx context.Context, pod *corev1.Pod) (map[string]volume.Source, error)
	Teardown(ctx context.Context, podUID types.UID) error
	// Mounts turns a container's volumeMounts into the mounts of its spec (subPaths opened
	// safely inside their volumes); env is the container's resolved environment.
	Mounts(pod *corev1.Pod, c *corev1.Container, env map[string]string, sources map[string]volume.Source) ([]container.Mount, error)
	// TerminationLog makes the file attempt n of a container writes its termination message
	// to and returns its host path; TerminationMessage reads what it wrote.
	TerminationLog(podUID types.UID, container string, n int) (string, error)
	TerminationMessage(podUID types.UID, container string, n int) (string, error)
	// HostsFile keeps the pod's managed /etc/hosts with content and returns its host path;
	// ResolvFile its /etc/resolv.conf.
	HostsFile(podUID types.UID, content []byte) (string, error)
	ResolvFile(podUID types.UID, content []byte) (string, error)
	PodUIDs() ([]types.UID, error)
}

// Config configures an Agent.
type Config struct {
	NodeName string
	Client   kubernetes.Interface
	Runtime  container.Runtime
	// Volumes prepares pod volumes; nil means pods may only use no volumes (hollow nodes).
	Volumes Volumes
	// Network is the bridge network pods join (default "drover"), with Subnet as its CIDR
	// (default 10.88.0.0/16).
	Network string
	Subnet  string
	// HostGW takes the pod subnet from the Node's spec.podCIDR (nodeipam; waited for up to
	// PodCIDRTimeout, default 60 s) instead of Subnet. The host routes through which pods reach
	// the pods of other hosts are kept beside the agent, by a hostgw.Router.
	HostGW         bool
	PodCIDRTimeout time.Duration
	// PodCIDR is the spec.podCIDR a Node this agent creates gets: the pod subnet it really
	// uses when that is not from nodeipam (a Docker node without HostGW passes its Subnet), so
	// that the Node tells the truth. "" leaves the field to nodeipam. An existing Node's
	// podCIDR is never changed (the field is immutable once set).
	PodCIDR string
	// ClusterID marks the containers this agent makes (LabelCluster) and keeps its hands off
	// those of another drover on the same Docker engine ("" : no mark, every container with
	// this node's name is this agent's, as before). See ClusterID().
	ClusterID string
	// PauseImage is the infra container image (default "drover/pause:1"). EnsureImages, when
	// set, makes the images the node provides itself (built locally: the pause image and, with
	// Docker, the tools image); it is called before the first pod starts, and again when an
	// infra container cannot be created.
	PauseImage   string
	EnsureImages func(ctx context.Context) error
	// ClusterDNS is the nameserver for ClusterFirst pods ("" leaves Docker's default).
	ClusterDNS string
	// NodeHosts is the node's hosts file, which a hostNetwork pod's /etc/hosts copies as the
	// kubelet's does (default "/etc/hosts"); NodeResolvConf the node's resolver configuration,
	// whose nameservers and search paths dnsPolicy Default pods get (the kubelet's
	// --resolv-conf, default "/etc/resolv.conf").
	NodeHosts      string
	NodeResolvConf string
	// NodeIP is the node's InternalIP ("" picks the address of the default route).
	NodeIP string
	// Port is where the agent serves HTTPS to the API server (0: not served): container logs,
	// exec, attach and port-forward (kubelet's paths, see server.go). TLS says with which
	// certificate, and that only the API server's client certificate is let in.
	Port int
	TLS  ServerTLS
	// HeartbeatClient, when set, is the client of the Lease renewals and Node status posts
	// (the kubelet's heartbeat client): on a connection of its own and without client-side
	// rate limit, so that a flood of the agent's other requests never delays a renewal. nil:
	// Client.
	HeartbeatClient kubernetes.Interface
	// Heartbeat is the Lease renewal period (default 10 s); LeaseDuration the Lease's
	// duration (default 40 s).
	Heartbeat     time.Duration
	LeaseDuration time.Duration
	// StatusReportFrequency is how often the Node's status is posted when nothing changed
	// (the kubelet's nodeStatusReportFrequency, default 5 min): the Lease tells liveness.
	StatusReportFrequency time.Duration
	// Relist is how often the runtime is listed for container changes (default 1 s).
	Relist time.Duration
	// SyncFrequency is how often a running pod with Secret, ConfigMap, downward API or
	// projected volumes is synced again, so that their files follow their objects (the
	// kubelet's syncFrequency, default 1 min).
	SyncFrequency time.Duration
	// Workers is the number of pods synced at once (default 8).
	Workers int
	// MaxPods is the pod capacity reported (default 110).
	MaxPods int
	// PidsLimit caps the processes of every app and init container, so that a fork bomb in a
	// build cannot take the host (default DefaultPidsLimit; negative: no cap).
	PidsLimit int64
	// Labels are added to the Node.
	Labels map[string]string
	// Clock (default real).
	Clock clock.WithTicker
	// Probes runs probes; nil uses real HTTP/TCP probes and the runtime's Exec.
	Probes Prober
	// Events, when set, is the event broadcaster the agent records through, shared by the
	// agents of one process (hollow nodes: one broadcaster and correlator cache instead of one
	// per node); its owner starts its recording (NewEventBroadcaster) and shuts it down after
	// the agents' Run returned. nil: the agent has its own, on Client.
	Events record.EventBroadcaster
	// Logger receives the agent's logs (nil: slog.Default()).
	Logger *slog.Logger
}

// Agent is one node's agent. Each pod bound to the node has a podWorker holding what the
// agent knows of it; the Agent holds what the node shares: the runtime, the API client, the
// pod queue, the probes and the node images.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	recorder record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[types.UID]
	informer cache.SharedIndexInformer
	services informers.SharedInformerFactory
	probes   *probeManager
	hostIP   string // set by registerNode, before any pod is synced
	hb       heartbeatState

	nodeCPU nodeCPU // the node's cumulative CPU counter (resourcemetrics.go)

	mu              sync.Mutex
	workers         map[types.UID]*podWorker
	imagesOK        bool
	nodeAllocatable corev1.ResourceList // as last reported on the Node
}

// DefaultPidsLimit is every container's process cap unless Config.PidsLimit says otherwise.
const DefaultPidsLimit = 4096

// New checks cfg and fills defaults.
func New(cfg Config) (*Agent, error) {
	if cfg.NodeName == "" {
		return nil, fmt.Errorf("nodeagent: node name is required")
	}
	if cfg.Client == nil || cfg.Runtime == nil {
		return nil, fmt.Errorf("nodeagent: client and runtime are required")
	}
	cfg = withDefaults(cfg)
	return &Agent{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName), workers: map[types.UID]*podWorker{}}, nil
}

// withDefaults fills cfg's unset fields.
func withDefaults(cfg Config) Config {
	cfg.Network = cmp.Or(cfg.Network, "drover")
	cfg.Subnet = cmp.Or(cfg.Subnet, "10.88.0.0/16")
	cfg.PauseImage = cmp.Or(cfg.PauseImage, "drover/pause:1")
	setDefault(&cfg.PodCIDRTimeout, 60*time.Second)
	setDefault(&cfg.Heartbeat, 10*time.Second)
	setDefault(&cfg.LeaseDuration, 40*time.Second)
	setDefault(&cfg.StatusReportFrequency, 5*time.Minute)
	setDefault(&cfg.Relist, time.Second)
	setDefault(&cfg.SyncFrequency, time.Minute)
	setDefault(&cfg.Workers, 8)
	setDefault(&cfg.MaxPods, 110)
	if cfg.NodeHosts == "" {
		cfg.NodeHosts = "/etc/hosts"
	}
	if cfg.NodeResolvConf == "" {
		cfg.NodeResolvConf = "/etc/resolv.conf"
	}
	if cfg.PidsLimit == 0 {
		cfg.PidsLimit = DefaultPidsLimit
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Probes == nil {
		cfg.Probes = probe.Real{Exec: probe.RuntimeExec(cfg.Runtime)}
	}
	return cfg
}

// setDefault sets *v to def unless it is positive.
func setDefault[T ~int | ~int64](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Run registers the node and runs until ctx ends. Before it returns, the pod syncs and probes
// in flight end (waited for up to shutdownWait), so their last events are still recorded.
func (a *Agent) Run(ctx context.Context) error {
	bc := a.cfg.Events
	if bc == nil {
		// The broadcaster outlives ctx: it is shut down once the syncs and probes are done.
		bc = NewEventBroadcaster(context.WithoutCancel(ctx), a.cfg.Client)
		defer bc.Shutdown()
	}
	a.recorder = bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "drover-node", Host: a.cfg.NodeName})

	if err := a.registerNode(ctx); err != nil {
		return err
	}
	gw, err := a.setupNetwork(ctx)
	if err != nil {
		return fmt.Errorf("pod network %s (%s): %w", a.cfg.Network, a.cfg.Subnet, err)
	}
	a.log.Info("pod network ready", "network", a.cfg.Network, "subnet", a.cfg.Subnet, "gateway", gw)

	// The queue's delays (back-off requeues) run on cfg.Clock, so a fake clock drives them too.
	a.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[types.UID](200*time.Millisecond, 10*time.Second),
		workqueue.TypedRateLimitingQueueConfig[types.UID]{Clock: a.cfg.Clock})
	a.probes = newProbeManager(a.cfg.Probes, a.cfg.Clock, a.recorder, a.queue.Add)
	var wg sync.WaitGroup
	defer a.shutdown(&wg)
	if err := a.watchPods(ctx); err != nil {
		return err
	}

	goRun := func(f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	goRun(a.heartbeat)
	if a.cfg.Port > 0 {
		goRun(a.serve)
	}
	a.adopt(ctx)
	for i := 0; i < a.cfg.Workers; i++ {
		goRun(a.worker)
	}
	goRun(a.relist)
	<-ctx.Done()
	return nil
}

// NewEventBroadcaster is an event broadcaster recording to client's Events until it is shut
// down; ctx should outlive the agents that use it (their last events are recorded after their
// ctx ended).
func NewEventBroadcaster(ctx context.Context, client kubernetes.Interface) record.EventBroadcaster {
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return bc
}

// shutdownWait bounds how long Run waits, once ctx has ended, for the pod syncs and probes in
// flight (their calls fail fast on the ended ctx; a stuck one is left behind).
const shutdownWait = 10 * time.Second

// shutdown stops the pod queue and waits for Run's goroutines (the pod workers among them),
// then stops the probes and waits for them, up to shutdownWait in all.
func (a *Agent) shutdown(wg *sync.WaitGroup) {
	deadline := time.Now().Add(shutdownWait)
	a.queue.ShutDown()
	if !waitUntil(wg.Wait, deadline) {
		a.log.Warn("stopping with pod syncs still running", "waited", shutdownWait)
	}
	a.probes.stopAll()
	if !waitUntil(a.probes.wait, deadline) {
		a.log.Warn("stopping with probes still running", "waited", shutdownWait)
	}
}

// waitUntil calls wait and reports whether it returned before deadline (real time: ctx has
// ended, and a fake clock may no longer move).
func waitUntil(wait func(), deadline time.Time) bool {
	done := make(chan struct{})
	go func() {
		wait()
		close(done)
	}()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// watchPods starts the informers of the node's pods (each change queues its pod) and of the
// services (for their environment variables), and waits for their caches.
func (a *Agent) watchPods(ctx context.Context) error {
	a.informer = informers.NewSharedInformerFactoryWithOptions(a.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", a.cfg.NodeName).String()
		})).Core().V1().Pods().Informer()
	if _, err := a.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { a.podChanged(obj) },
		UpdateFunc: func(_, obj interface{}) { a.podChanged(obj) },
		DeleteFunc: a.podDeleted,
	}); err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	a.services = informers.NewSharedInformerFactory(a.cfg.Client, 0)
	a.services.Core().V1().Services().Informer()
	go a.informer.Run(ctx.Done())
	a.services.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), a.informer.HasSynced) {
		return ctx.Err()
	}
	a.services.WaitForCacheSync(ctx.Done())
	return nil
}

// worker syncs the pods the queue hands out. The queue never hands out a UID that is being
// synced, so a pod's worker is only ever run by one sync at a time.
func (a *Agent) worker(ctx context.Context) {
	for {
		uid, quit := a.queue.Get()
		if quit {
			return
		}
		next, err := a.podWorker(uid).sync(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("pod sync failed", "pod", uid, "err", err)
			a.queue.AddRateLimited(uid)
		default:
			a.queue.Forget(uid)
			if next > 0 {
				a.queue.AddAfter(uid, next)
			}
		}
		a.queue.Done(uid)
	}
}
