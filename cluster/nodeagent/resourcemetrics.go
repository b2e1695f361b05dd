package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// RegisterMetrics adds the kubelet's resource metrics endpoint to mux: GET /metrics/resource,
// what metrics-server (and drover's API server) scrapes, in the Prometheus text format with the
// kubelet's metric names: container_cpu_usage_seconds_total and
// container_memory_working_set_bytes per running container (the infra container left out),
// container_start_time_seconds, and node_cpu_usage_seconds_total and
// node_memory_working_set_bytes for the node. Only the API server reaches it (server.go's TLS).
//
// The node's numbers are those of the pods it runs (the kubelet reports the root cgroup, which
// also counts system daemons); its CPU counter only grows: each container adds what it used
// since the previous scrape, so containers that end do not take their time away.
func (a *Agent) RegisterMetrics(mux *http.ServeMux) {
	mux.HandleFunc("/metrics/resource", a.handleResourceMetrics)
}

// nodeCPU keeps the node's cumulative CPU counter across scrapes.
type nodeCPU struct {
	mu    sync.Mutex
	total uint64            // nanoseconds
	last  map[string]uint64 // each container's counter at the previous scrape, by ID
}

// add folds this scrape's container counters into the node's and returns it.
func (n *nodeCPU) add(now map[string]uint64) uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, v := range now {
		if prev, ok := n.last[id]; ok && v >= prev {
			n.total += v - prev
		} else {
			n.total += v // new (or restarted) container: all it used so far
		}
	}
	n.last = now
	return n.total
}

// sample is one container's usage with its names.
type sample struct {
	namespace, pod, container string
	started                   time.Time
	stats                     container.Stats
}

func (a *Agent) handleResourceMetrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	samples, err := a.sampleContainers(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	writeResourceMetrics(w, samples, a.nodeCPU.add(counters(samples)), a.cfg.Clock.Now())
}

// sampleContainers takes the stats of the node's running pod containers, a few at a time.
func (a *Agent) sampleContainers(ctx context.Context) ([]sample, error) {
	cs, err := a.listContainers(ctx, map[string]string{LabelManaged: "true"})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var (
		mu  sync.Mutex
		out []sample
		wg  sync.WaitGroup
		sem = make(chan struct{}, 8)
	)
	for _, c := range cs {
		if c.State != container.StateRunning || c.Labels[LabelContainer] == infraName || c.Labels[LabelPodName] == "" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			st, err := a.cfg.Runtime.Stats(ctx, c.ID)
			if err != nil {
				if !errors.Is(err, container.ErrNotRunning) && !errors.Is(err, container.ErrNotFound) {
					a.log.Debug("container stats", "container", c.Name, "err", err)
				}
				return
			}
			mu.Lock()
			out = append(out, sample{namespace: c.Labels[LabelPodNS], pod: c.Labels[LabelPodName],
				container: c.Labels[LabelContainer], started: c.StartedAt, stats: st})
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.namespace+"/"+a.pod+"/"+a.container < b.namespace+"/"+b.pod+"/"+b.container
	})
	return out, nil
}

// counters are the samples' CPU counters keyed by namespace, pod, container and start.
func counters(samples []sample) map[string]uint64 {
	m := make(map[string]uint64, len(samples))
	for _, s := range samples {
		m[s.namespace+"/"+s.pod+"/"+s.container+"@"+s.started.String()] = s.stats.CPUUsageNanoSeconds
	}
	return m
}

// writeResourceMetrics writes the kubelet's /metrics/resource families.
func writeResourceMetrics(w io.Writer, samples []sample, nodeCPU uint64, now time.Time) {
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	var mem uint64
	for _, s := range samples {
		mem += s.stats.MemoryWorkingSetBytes
	}
	var b strings.Builder
	family := func(name, typ, help string, each func(s sample) string) {
		fmt.Fprintf(&b, "# HELP %s [STABLE] %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range samples {
			fmt.Fprintf(&b, "%s{container=%q,namespace=%q,pod=%q} %s\n", name, s.container, s.namespace, s.pod, each(s))
		}
	}
	family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the container in core-seconds", func(s sample) string {
		return seconds(s.stats.CPUUsageNanoSeconds) + " " + ms(s.stats.Time)
	})
	family("container_memory_working_set_bytes", "gauge", "Current working set of the container in bytes", func(s sample) string {
		return strconv.FormatUint(s.stats.MemoryWorkingSetBytes, 10) + " " + ms(s.stats.Time)
	})
	family("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds", func(s sample) string {
		return strconv.FormatFloat(float64(s.started.UnixNano())/1e9, 'f', -1, 64)
	})
	fmt.Fprintf(&b, "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds\n# TYPE node_cpu_usage_seconds_total counter\nnode_cpu_usage_seconds_total %s %s\n", seconds(nodeCPU), ms(now))
	fmt.Fprintf(&b, "# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes\n# TYPE node_memory_working_set_bytes gauge\nnode_memory_working_set_bytes %d %s\n", mem, ms(now))
	fmt.Fprintf(&b, "# HELP scrape_error [ALPHA] 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE scrape_error gauge\nscrape_error 0\n")
	_, _ = io.WriteString(w, b.String())
}

func seconds(ns uint64) string {
	return strconv.FormatFloat(float64(ns)/1e9, 'f', 9, 64)
}
