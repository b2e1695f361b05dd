// Package resourcemetrics is drover's metrics-server: a collector inside the API server
// process that scrapes every node agent's /metrics/resource (the kubelet's endpoint, in the
// Prometheus text format) every Resolution (15 s, metrics-server's usual
// --metric-resolution), keeps each node's last two scrapes, and turns them into the
// metrics.k8s.io/v1beta1 PodMetrics and NodeMetrics the API server serves (`kubectl top`, the
// Horizontal Pod Autoscaler).
//
// As in metrics-server, CPU usage is the rate of the cumulative CPU counters between the two
// scrapes (the window); a container that started after the previous scrape is measured from
// its start; a counter that went down (a restarted container) gives no rate until the next
// scrape. Memory is the last working set. A node whose scrape fails drops out until it
// answers again.
package resourcemetrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// DefaultResolution is how often nodes are scraped unless Config says otherwise.
const DefaultResolution = 15 * time.Second

// Config configures a Collector.
type Config struct {
	// Nodes lists the cluster's nodes.
	Nodes func(ctx context.Context) ([]*corev1.Node, error)
	// Fetch returns the answer of node's /metrics/resource.
	Fetch func(ctx context.Context, node *corev1.Node) (io.ReadCloser, error)
	// Resolution is the scrape interval (default DefaultResolution).
	Resolution time.Duration
	// Clock (default real).
	Clock clock.WithTicker
	// Logger (nil: dropped).
	Logger *slog.Logger
}

// Collector scrapes the nodes and keeps what PodMetrics and NodeMetrics need.
type Collector struct {
	cfg Config
	log *slog.Logger

	mu    sync.RWMutex
	nodes map[string]*nodeState
}

// nodeState is a node's last two scrapes.
type nodeState struct {
	prev, last *scrape
}

// New returns a collector; Run starts it.
func New(cfg Config) *Collector {
	if cfg.Resolution <= 0 {
		cfg.Resolution = DefaultResolution
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{cfg: cfg, log: log, nodes: map[string]*nodeState{}}
}

// Resolution is the scrape interval.
func (c *Collector) Resolution() time.Duration { return c.cfg.Resolution }

// Run scrapes every node now and then every Resolution until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	t := c.cfg.Clock.NewTicker(c.cfg.Resolution)
	defer t.Stop()
	for {
		c.Scrape(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// Scrape scrapes every node once, in parallel (each bounded by the resolution), and stores
// the answers.
func (c *Collector) Scrape(ctx context.Context) {
	nodes, err := c.cfg.Nodes(ctx)
	if err != nil {
		c.log.Warn("resource metrics: listing nodes", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Resolution)
	defer cancel()
	results := make([]*scrape, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.scrapeNode(ctx, n)
			if err != nil {
				c.log.Debug("resource metrics: scraping node", "node", n.Name, "err", err)
				return
			}
			results[i] = s
		}()
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[string]*nodeState, len(nodes))
	for i, n := range nodes {
		if results[i] == nil {
			continue
		}
		st := &nodeState{last: results[i]}
		if old := c.nodes[n.Name]; old != nil {
			st.prev = old.last
		}
		next[n.Name] = st
	}
	c.nodes = next
}

func (c *Collector) scrapeNode(ctx context.Context, n *corev1.Node) (*scrape, error) {
	body, err := c.cfg.Fetch(ctx, n)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	s, err := parse(io.LimitReader(body, 32<<20), c.cfg.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.Name, err)
	}
	return &s, nil
}
