// Package consulcatalog registers every Service that has a cluster IP in Consul's catalog, so
// that machines outside drover find it through Consul DNS (`jenkins.service.consul`, and
// `http.jenkins.service.consul` for one named port). Each service port is one catalog entry:
// name = the Service's name, address = its cluster IP, port = the service port, tags = the
// namespace, the port's name and "drover". Entries of Services that are gone are removed; the
// whole set is reconciled at start and every 30 s, so nothing is left behind after a restart.
package consulcatalog

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/hashicorp/consul/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/drover-ci/drover/cluster/controller"
)

// Tag marks the catalog entries drover owns.
const Tag = "drover"

// Resync is how often the whole catalog is reconciled besides service changes.
const Resync = 30 * time.Second

// Config says where to register.
type Config struct {
	Consul *api.Client
	// Node is the catalog node the entries hang off (default "drover-services"); NodeAddress
	// its address (default 127.0.0.1).
	Node, NodeAddress string
}

// Controller reconciles the catalog with the Services.
type Controller struct {
	cfg      Config
	services corelisters.ServiceLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	log      *slog.Logger
}

// New returns a constructor for the manager.
func New(cfg Config) controller.Constructor {
	if cfg.Node == "" {
		cfg.Node = "drover-services"
	}
	if cfg.NodeAddress == "" {
		cfg.NodeAddress = "127.0.0.1"
	}
	return func(cc controller.Context) (controller.Controller, error) {
		inf := cc.Informers.Core().V1().Services()
		c := &Controller{cfg: cfg, services: inf.Lister(), synced: inf.Informer().HasSynced,
			queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
			log:   cc.LoggerOrDiscard()}
		all := func(interface{}) { c.queue.Add("all") }
		if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: all, UpdateFunc: func(_, n interface{}) { all(n) }, DeleteFunc: all,
		}); err != nil {
			return nil, err
		}
		return c, nil
	}
}

// Name is "consulcatalog".
func (c *Controller) Name() string { return "consulcatalog" }

// Run reconciles until ctx ends (one worker: the whole catalog is one key), every Resync and
// on every Service change. It returns once ctx ends and the reconcile in progress is done.
func (c *Controller) Run(ctx context.Context) error {
	go func() {
		t := time.NewTicker(Resync)
		defer t.Stop()
		for {
			c.queue.Add("all")
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return controller.RunWorkers(ctx, c.log, c.queue, []cache.InformerSynced{c.synced}, 1,
		controller.NoRequeue(func(ctx context.Context, _ string) error { return c.Reconcile(ctx) }))
}

// Entries returns the catalog services drover wants for svcs, by service ID.
func Entries(svcs []*corev1.Service) map[string]*api.AgentService {
	out := map[string]*api.AgentService{}
	for _, s := range svcs {
		ip := s.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone {
			continue
		}
		for _, p := range s.Spec.Ports {
			name := p.Name
			if name == "" {
				name = fmt.Sprint(p.Port)
			}
			id := fmt.Sprintf("%s/%s/%s/%s", Tag, s.Namespace, s.Name, name)
			out[id] = &api.AgentService{ID: id, Service: s.Name, Address: ip, Port: int(p.Port),
				Tags: []string{s.Namespace, name, Tag}, Meta: map[string]string{"namespace": s.Namespace, "protocol": string(p.Protocol)}}
		}
	}
	return out
}

// Reconcile registers what is missing or changed and deregisters drover entries of Services
// that are gone.
func (c *Controller) Reconcile(ctx context.Context) error {
	svcs, err := c.services.List(labels.Everything())
	if err != nil {
		return err
	}
	want := Entries(svcs)
	opts := (&api.QueryOptions{}).WithContext(ctx)
	node, _, err := c.cfg.Consul.Catalog().Node(c.cfg.Node, opts)
	if err != nil {
		return fmt.Errorf("read catalog node %s: %w", c.cfg.Node, err)
	}
	have := map[string]*api.AgentService{}
	if node != nil {
		for id, s := range node.Services {
			if hasTag(s.Tags, Tag) {
				have[id] = s
			}
		}
	}
	wopts := (&api.WriteOptions{}).WithContext(ctx)
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		w := want[id]
		if h, ok := have[id]; ok && h.Address == w.Address && h.Port == w.Port && h.Service == w.Service {
			continue
		}
		reg := &api.CatalogRegistration{Node: c.cfg.Node, Address: c.cfg.NodeAddress, Service: w,
			NodeMeta: map[string]string{"external-source": "drover"}}
		if _, err := c.cfg.Consul.Catalog().Register(reg, wopts); err != nil {
			return fmt.Errorf("register %s: %w", id, err)
		}
	}
	for id := range have {
		if _, ok := want[id]; ok {
			continue
		}
		if _, err := c.cfg.Consul.Catalog().Deregister(&api.CatalogDeregistration{Node: c.cfg.Node, ServiceID: id}, wopts); err != nil {
			return fmt.Errorf("deregister %s: %w", id, err)
		}
	}
	return nil
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}
