// Package serviceip is the repair loop of service IP and NodePort allocation. As in Kubernetes,
// the API server allocates a Service's cluster IP from the service CIDR and node ports for
// NodePort and LoadBalancer services when the Service is created or updated (so the response
// carries them), with its record of what is taken in the store. This controller keeps the
// `kubernetes` service in `default` (the first host address of the CIDR) and fills in what a
// service still lacks (one stored before the API server allocated), through an Update with the
// service's resourceVersion; what is taken is rebuilt from the existing services when it starts.
// A service naming a value that is taken, or outside the range, gets a Warning event.
package serviceip

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/drover-ci/drover/cluster/controller"
)

// Component is the source of the events the controller records.
const Component = "serviceip-controller"

// Event reasons (Warning) for services that name what they cannot have.
const (
	ReasonIPAllocated     = "ClusterIPAlreadyAllocated"
	ReasonIPOutOfRange    = "ClusterIPOutOfRange"
	ReasonPortAllocated   = "PortAlreadyAllocated"
	ReasonPortOutOfRange  = "PortOutOfRange"
	ReasonAllocationError = "AllocationFailed"
)

// Controller allocates cluster IPs and node ports.
type Controller struct {
	client   kubernetes.Interface
	services corelisters.ServiceLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	st       *state
	apiAddr  netip.AddrPort // the API server's address for the kubernetes Endpoints, if known
	log      *slog.Logger
}

// New builds the controller from the manager's context (Options.ServiceCIDR, NodePortMin/Max).
func New(cc controller.Context) (*Controller, error) {
	opts := cc.Options.WithDefaults()
	ips, err := NewIPRange(opts.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	ports, err := NewPortRange(opts.NodePortMin, opts.NodePortMax)
	if err != nil {
		return nil, err
	}
	inf := cc.Informers.Core().V1().Services()
	c := &Controller{
		client:   cc.Client,
		services: inf.Lister(),
		synced:   inf.Informer().HasSynced,
		queue:    workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		recorder: &record.FakeRecorder{},
		st:       newState(ips, ports),
		apiAddr:  opts.APIServerAddress,
		log:      cc.LoggerOrDiscard(),
	}
	if !c.apiAddr.IsValid() {
		c.apiAddr = apiServerAddress(cc.Client)
	}
	if cc.Recorder != nil {
		c.recorder = cc.Recorder(Component)
	}
	enqueue := func(obj interface{}) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, n interface{}) { enqueue(n) }, DeleteFunc: enqueue,
	}); err != nil {
		return nil, fmt.Errorf("serviceip: handler: %w", err)
	}
	return c, nil
}

// Name is "serviceip".
func (c *Controller) Name() string { return "serviceip" }

// Run rebuilds the allocations from the cache, makes sure the kubernetes service exists, and
// then allocates with one worker (allocation is sequential by nature) until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	stop := controller.ShutDownOnDone(ctx, c.queue)
	defer stop()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return ctx.Err()
	}
	if err := c.rebuild(); err != nil {
		return err
	}
	if err := c.ensureKubernetes(ctx); err != nil {
		level := slog.LevelWarn
		if apierrors.IsConflict(err) {
			level = slog.LevelDebug // written meanwhile; the retry reads the newer object
		}
		c.log.Log(ctx, level, "cannot ensure the kubernetes service; retrying", "err", err)
		c.queue.AddRateLimited(kubernetesKey)
	}
	// The caches have synced already: RunWorkers only runs the one worker.
	return controller.RunWorkers(ctx, c.log, c.queue, nil, 1, controller.NoRequeue(c.sync))
}

// rebuild marks what the existing services hold, the oldest first, so that of two services
// naming the same IP or port the older one keeps it.
func (c *Controller) rebuild() error {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("serviceip: list services: %w", err)
	}
	sort.Slice(svcs, func(i, j int) bool {
		a, b := svcs[i], svcs[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	for _, svc := range svcs {
		key := svc.Namespace + "/" + svc.Name
		ips, ports := inUse(svc)
		for ip := range ips {
			_ = c.st.claimIP(key, ip) // conflicts are reported by the service's own sync
		}
		for port := range ports {
			_ = c.st.claimPort(key, port)
		}
	}
	c.log.Info("allocations rebuilt", "services", len(svcs),
		"freeIPs", c.st.ips.Free(), "freeNodePorts", c.st.ports.Free())
	return nil
}

// inUse is what a service's spec names: its cluster IPs and node ports.
func inUse(svc *corev1.Service) (map[netip.Addr]bool, map[int]bool) {
	ips, ports := map[netip.Addr]bool{}, map[int]bool{}
	if svc.Spec.Type != corev1.ServiceTypeExternalName {
		for _, s := range clusterIPs(svc) {
			if ip, err := netip.ParseAddr(s); err == nil {
				ips[ip] = true
			}
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			ports[int(p.NodePort)] = true
		}
	}
	return ips, ports
}

func clusterIPs(svc *corev1.Service) []string {
	if len(svc.Spec.ClusterIPs) > 0 {
		return svc.Spec.ClusterIPs
	}
	if svc.Spec.ClusterIP != "" {
		return []string{svc.Spec.ClusterIP}
	}
	return nil
}
