// Package nodeagent is drover's kubelet: it registers its Node, renews its Lease, and turns
// the pods bound to it into containers through a container.Runtime, keeping them as their spec
// says (restart policy with back-off, probes, volumes, graceful termination) and reporting
// their status. Every container carries labels naming its pod, so a restarted agent adopts
// what runs and removes what no pod owns.
package nodeagent

import (
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
	// PodCIDRTimeout, default 60 s) instead of Subnet, and keeps host routes to the other
	// nodes' pod subnets through their InternalIPs in Routes (default IPRoutes), reconciled on
	// Node events and every RouteResync (default 30 s): pods reach pods on every host.
	HostGW         bool
	PodCIDRTimeout time.Duration
	Routes         RouteTable
	RouteResync    time.Duration
	// PauseImage is the infra container image (default "drover/pause:1"); EnsurePauseImage,
	// when set, is called before the first pod starts to build it locally.
	PauseImage       string
	EnsurePauseImage func(ctx context.Context) error
	// ClusterDNS is the nameserver for ClusterFirst pods ("" leaves Docker's default).
	ClusterDNS string
	// NodeIP is the node's InternalIP ("" picks the address of the default route).
	NodeIP string
	// LogPort is where the agent serves container logs to the API server (0: not served).
	LogPort int
	// Token authenticates the API server's log requests (the agent's own bearer token).
	Token string
	// Heartbeat is the Lease renewal period (default 10 s); LeaseDuration the Lease's
	// duration (default 40 s).
	Heartbeat     time.Duration
	LeaseDuration time.Duration
	// Relist is how often the runtime is listed for container changes (default 1 s).
	Relist time.Duration
	// Workers is the number of pods synced at once (default 8).
	Workers int
	// MaxPods is the pod capacity reported (default 110).
	MaxPods int
	// Labels are added to the Node.
	Labels map[string]string
	// Clock (default real).
	Clock clock.WithTicker
	// Probes runs probes; nil uses real HTTP/TCP probes and the runtime's Exec.
	Probes Prober
}

// Agent is one node's agent.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	recorder record.EventRecorder
	queue    workqueue.TypedRateLimitingInterface[types.UID]
	informer cache.SharedIndexInformer
	services informers.SharedInformerFactory

	mu         sync.Mutex
	pods       map[types.UID]*corev1.Pod
	startTime  map[types.UID]time.Time
	reported   map[types.UID]corev1.PodStatus
	backoff    *backoff
	probes     *probeManager
	lastSeen   map[types.UID]string // relist fingerprint per pod
	hostIP     string
	pauseOK    bool
	pullFailed map[string]time.Time
}

// New checks cfg and fills defaults.
func New(cfg Config) (*Agent, error) {
	if cfg.NodeName == "" {
		return nil, fmt.Errorf("nodeagent: node name is required")
	}
	if cfg.Client == nil || cfg.Runtime == nil {
		return nil, fmt.Errorf("nodeagent: client and runtime are required")
	}
	if cfg.Network == "" {
		cfg.Network = "drover"
	}
	if cfg.Subnet == "" {
		cfg.Subnet = "10.88.0.0/16"
	}
	if cfg.PodCIDRTimeout <= 0 {
		cfg.PodCIDRTimeout = 60 * time.Second
	}
	if cfg.RouteResync <= 0 {
		cfg.RouteResync = 30 * time.Second
	}
	if cfg.HostGW && cfg.Routes == nil {
		cfg.Routes = IPRoutes{}
	}
	if cfg.PauseImage == "" {
		cfg.PauseImage = "drover/pause:1"
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = 40 * time.Second
	}
	if cfg.Relist <= 0 {
		cfg.Relist = time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.MaxPods <= 0 {
		cfg.MaxPods = 110
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	a := &Agent{
		cfg:        cfg,
		log:        slog.Default().With("node", cfg.NodeName),
		pods:       map[types.UID]*corev1.Pod{},
		startTime:  map[types.UID]time.Time{},
		reported:   map[types.UID]corev1.PodStatus{},
		lastSeen:   map[types.UID]string{},
		backoff:    newBackoff(cfg.Clock),
		pullFailed: map[string]time.Time{},
	}
	if a.cfg.Probes == nil {
		a.cfg.Probes = probe.Real{Exec: probe.RuntimeExec(cfg.Runtime)}
	}
	a.probes = newProbeManager(a)
	return a, nil
}

// Run registers the node and runs until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	bc := record.NewBroadcaster(record.WithContext(ctx))
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.cfg.Client.CoreV1().Events("")})
	defer bc.Shutdown()
	a.recorder = bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "drover-node", Host: a.cfg.NodeName})

	if err := a.registerNode(ctx); err != nil {
		return err
	}
	gw, err := a.setupNetwork(ctx)
	if err != nil {
		return fmt.Errorf("pod network %s (%s): %w", a.cfg.Network, a.cfg.Subnet, err)
	}
	a.log.Info("pod network ready", "network", a.cfg.Network, "subnet", a.cfg.Subnet, "gateway", gw)
	if a.cfg.HostGW {
		go a.runRoutes(ctx)
	}

	// The queue's delays (back-off requeues) run on cfg.Clock, so a fake clock drives them too.
	a.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[types.UID](200*time.Millisecond, 10*time.Second),
		workqueue.TypedRateLimitingQueueConfig[types.UID]{Clock: a.cfg.Clock})
	defer a.queue.ShutDown()
	a.informer = informers.NewSharedInformerFactoryWithOptions(a.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", a.cfg.NodeName).String()
		})).Core().V1().Pods().Informer()
	if _, err := a.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { a.podChanged(obj) },
		UpdateFunc: func(_, obj interface{}) { a.podChanged(obj) },
		DeleteFunc: a.podDeleted,
	}); err != nil {
		return err
	}
	a.services = informers.NewSharedInformerFactory(a.cfg.Client, 0)
	a.services.Core().V1().Services().Informer()
	go a.informer.Run(ctx.Done())
	a.services.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), a.informer.HasSynced) {
		return ctx.Err()
	}
	a.services.WaitForCacheSync(ctx.Done())

	go a.heartbeat(ctx)
	if a.cfg.LogPort > 0 {
		go a.serveLogs(ctx)
	}
	a.adopt(ctx)
	for i := 0; i < a.cfg.Workers; i++ {
		go a.worker(ctx)
	}
	go a.relist(ctx)
	<-ctx.Done()
	a.probes.stopAll()
	return nil
}

func (a *Agent) podChanged(obj interface{}) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	a.pods[pod.UID] = pod
	a.mu.Unlock()
	a.queue.Add(pod.UID)
}

func (a *Agent) podDeleted(obj interface{}) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	delete(a.pods, pod.UID)
	a.mu.Unlock()
	a.queue.Add(pod.UID)
}

func (a *Agent) pod(uid types.UID) *corev1.Pod {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pods[uid]
}

func (a *Agent) worker(ctx context.Context) {
	for {
		uid, quit := a.queue.Get()
		if quit {
			return
		}
		next, err := a.syncPod(ctx, uid)
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
