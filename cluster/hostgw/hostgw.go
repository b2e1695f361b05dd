// Package hostgw keeps a host's routes to the other nodes' pod subnets, as flannel's host-gw
// backend does: one route per other node, `PODCIDR via INTERNALIP`, added once that node is
// Ready and removed when it is gone or its subnet or address changed. It runs on every node of
// a several-host cluster (`drover node --host-gw`), beside the service proxy and cluster DNS.
package hostgw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// Config configures a Router.
type Config struct {
	// NodeName is this host's Node: its own pod subnet gets no route.
	NodeName string
	Client   kubernetes.Interface
	// Routes is the host's routing table (default IPRoutes).
	Routes RouteTable
	// Resync is how often the routes are reconciled besides on Node events (default 30 s).
	Resync time.Duration
	// Forward turns on IPv4 forwarding, so the host forwards packets between its pod bridge
	// and the other hosts (default: writes /proc/sys/net/ipv4/ip_forward).
	Forward func() error
	// Clock (default real).
	Clock clock.WithTicker
	// Logger receives the router's logs (nil: slog.Default()).
	Logger *slog.Logger
}

// Router keeps the host routes to the other nodes' pod subnets.
type Router struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and fills defaults.
func New(cfg Config) (*Router, error) {
	if cfg.NodeName == "" || cfg.Client == nil {
		return nil, errors.New("hostgw: node name and client are required")
	}
	if cfg.Routes == nil {
		cfg.Routes = IPRoutes{}
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 30 * time.Second
	}
	if cfg.Forward == nil {
		cfg.Forward = enableIPForward
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Router{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName)}, nil
}

// Run turns on IPv4 forwarding and keeps the routes, reconciled on Node events and every
// Resync, until ctx ends. A route that cannot be changed is logged and tried again.
func (r *Router) Run(ctx context.Context) error {
	if err := r.cfg.Forward(); err != nil {
		return err
	}
	// The informers stop when Run returns, also when it returns early (their stop channel
	// must close before Shutdown waits for them).
	ctx, cancel := context.WithCancel(ctx)
	factory := informers.NewSharedInformerFactory(r.cfg.Client, 0)
	inf := factory.Core().V1().Nodes()
	kick := make(chan struct{}, 1)
	poke := func(interface{}) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: poke, UpdateFunc: func(_, o interface{}) { poke(o) }, DeleteFunc: poke,
	}); err != nil {
		cancel()
		return fmt.Errorf("hostgw: node informer: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return nil // ctx ended
	}
	t := r.cfg.Clock.NewTicker(r.cfg.Resync)
	defer t.Stop()
	for {
		nodes, err := inf.Lister().List(labels.Everything())
		if err == nil {
			if err := r.sync(ctx, nodes); err != nil && ctx.Err() == nil {
				r.log.Warn("host routes", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		case <-t.C():
		}
	}
}

// sync makes the router's routes what nodes ask for.
func (r *Router) sync(ctx context.Context, nodes []*corev1.Node) error {
	have, err := r.cfg.Routes.List(ctx)
	if err != nil {
		return err
	}
	want, known := routesOf(r.cfg.NodeName, nodes)
	var errs []error
	for dst, via := range have {
		// Keep the route of a node that is merely NotReady: only gone or changed nodes lose it.
		if k, ok := known[dst]; !ok || k != via {
			if err := r.cfg.Routes.Delete(ctx, dst); err != nil {
				errs = append(errs, err)
			} else {
				r.log.Info("host route removed", "dst", dst, "via", via)
			}
		}
	}
	for dst, via := range want {
		if have[dst] == via {
			continue
		}
		if err := r.cfg.Routes.Replace(ctx, dst, via); err != nil {
			errs = append(errs, err)
		} else {
			r.log.Info("host route added", "dst", dst, "via", via)
		}
	}
	return errors.Join(errs...)
}

// routesOf returns the routes to the pod subnets of the nodes other than self through their
// InternalIPs: those of Ready nodes (wanted), and those of all of them (known). A subnet that
// is self's own (its Node's spec.podCIDR) gets none.
func routesOf(self string, nodes []*corev1.Node) (want, known map[netip.Prefix]netip.Addr) {
	var own netip.Prefix
	for _, n := range nodes {
		if n.Name == self {
			own, _ = netip.ParsePrefix(n.Spec.PodCIDR)
		}
	}
	want, known = map[netip.Prefix]netip.Addr{}, map[netip.Prefix]netip.Addr{}
	for _, n := range nodes {
		if n.Name == self {
			continue
		}
		dst, err := netip.ParsePrefix(n.Spec.PodCIDR)
		if err != nil || (own.IsValid() && dst.Masked() == own.Masked()) {
			continue
		}
		via, ok := internalIP(n)
		if !ok {
			continue
		}
		known[dst] = via
		if nodeIsReady(n) {
			want[dst] = via
		}
	}
	return want, known
}

func internalIP(n *corev1.Node) (netip.Addr, bool) {
	for _, ad := range n.Status.Addresses {
		if ad.Type == corev1.NodeInternalIP {
			ip, err := netip.ParseAddr(ad.Address)
			return ip, err == nil
		}
	}
	return netip.Addr{}, false
}

func nodeIsReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// enableIPForward lets this host forward packets between its pod bridge and the other hosts.
func enableIPForward() error {
	const p = "/proc/sys/net/ipv4/ip_forward"
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable IPv4 forwarding (host-gw routes pods between hosts): %w", err)
	}
	return nil
}
