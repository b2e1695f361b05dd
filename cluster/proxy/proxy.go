// Package proxy is the userspace service proxy every node runs: for each service with a
// cluster IP it puts the IP on the node (AddrManager) and listens on IP:port for every TCP
// service port, NodePort services also on the node port; each connection goes to a ready
// endpoint (round robin, or sessionAffinity ClientIP), trying the next when one refuses.
// Service and endpoint changes arrive through informers and apply at once.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Config configures a Proxy.
type Config struct {
	// Client reads services and endpoints (list and watch).
	Client kubernetes.Interface
	// Addrs puts cluster IPs on the node (default NewLoopback("lo")).
	Addrs AddrManager
	// NodePortAddress is the address NodePort listeners bind ("" or "0.0.0.0": all).
	NodePortAddress string
	// DialTimeout bounds connecting to one backend before the next is tried (default 2 s).
	DialTimeout time.Duration
	// Logger receives the proxy's logs, with a "component" attribute (nil: they are dropped).
	Logger *slog.Logger
	// Now is the clock of session affinity (default time.Now).
	Now func() time.Time
}

// Proxy serves cluster IPs and node ports of services.
type Proxy struct {
	cfg       Config
	log       *slog.Logger
	factory   informers.SharedInformerFactory
	services  corelisters.ServiceLister
	endpoints corelisters.EndpointsLister
	queue     workqueue.TypedRateLimitingInterface[string]
	state     map[string]*serviceState // by namespace/name; only the worker touches it
}

// New returns a proxy for cfg; Run starts it.
func New(cfg Config) *Proxy {
	if cfg.Addrs == nil {
		cfg.Addrs = NewLoopback("lo")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := informers.NewSharedInformerFactory(cfg.Client, 0)
	return &Proxy{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "proxy"),
		factory:   f,
		services:  f.Core().V1().Services().Lister(),
		endpoints: f.Core().V1().Endpoints().Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "proxy"}),
		state: map[string]*serviceState{},
	}
}

// Run proxies until ctx ends, then closes every listener and removes the addresses it added.
func (p *Proxy) Run(ctx context.Context) error {
	defer p.queue.ShutDown()
	enqueue := cache.ResourceEventHandlerFuncs{
		AddFunc:    p.enqueue,
		UpdateFunc: func(_, obj any) { p.enqueue(obj) },
		DeleteFunc: p.enqueue,
	}
	for _, inf := range []cache.SharedIndexInformer{
		p.factory.Core().V1().Services().Informer(),
		p.factory.Core().V1().Endpoints().Informer(),
	} {
		if _, err := inf.AddEventHandler(enqueue); err != nil {
			return fmt.Errorf("proxy: event handler: %w", err)
		}
	}
	// The informers stop when this returns, also early with an error (their stop channel
	// must close before Shutdown waits for them).
	ctx, cancel := context.WithCancel(ctx)
	p.factory.Start(ctx.Done())
	defer p.factory.Shutdown()
	defer cancel()
	for typ, ok := range p.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("proxy: syncing the %v cache: %w", typ, ctx.Err())
		}
	}
	p.log.Info("proxying services", "nodePortAddress", p.cfg.NodePortAddress)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p.work(ctx) {
		}
	}()
	<-ctx.Done()
	p.queue.ShutDown()
	<-done
	p.closeAll()
	return nil
}

func (p *Proxy) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		p.log.Warn("object without a key", "err", err)
		return
	}
	p.queue.Add(key)
}

// work syncs one queued service; false once the queue is shut down.
func (p *Proxy) work(ctx context.Context) bool {
	key, quit := p.queue.Get()
	if quit {
		return false
	}
	defer p.queue.Done(key)
	if err := p.sync(ctx, key); err != nil {
		p.log.Warn("service not fully proxied, retrying", "service", key, "err", err)
		p.queue.AddRateLimited(key)
		return true
	}
	p.queue.Forget(key)
	return true
}

// closeAll tears every service down (on exit).
func (p *Proxy) closeAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for key := range p.state {
		p.teardown(ctx, key)
	}
}
