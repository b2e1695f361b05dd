package resourcemetrics

import (
	"fmt"
	"io"
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// point is one sample of a cumulative CPU counter and a memory gauge.
type point struct {
	cpu   uint64    // CPU time used, nanoseconds
	mem   uint64    // working set, bytes
	at    time.Time // when the node sampled it
	start time.Time // container start (zero for the node)
}

// key names a container.
type key struct{ namespace, pod, container string }

// scrape is what one node answered.
type scrape struct {
	node       point
	containers map[key]point
}

// parse reads a node agent's (or kubelet's) /metrics/resource answer: the families
// node_cpu_usage_seconds_total, node_memory_working_set_bytes,
// container_cpu_usage_seconds_total, container_memory_working_set_bytes and
// container_start_time_seconds. A sample without a timestamp is taken at now.
func parse(r io.Reader, now time.Time) (scrape, error) {
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return scrape{}, fmt.Errorf("parsing resource metrics: %w", err)
	}
	s := scrape{containers: map[key]point{}}
	at := func(m *dto.Metric) time.Time {
		if m.TimestampMs == nil {
			return now
		}
		return time.UnixMilli(m.GetTimestampMs())
	}
	for _, m := range fams["node_cpu_usage_seconds_total"].GetMetric() {
		s.node.cpu, s.node.at = nanos(value(m)), at(m)
	}
	for _, m := range fams["node_memory_working_set_bytes"].GetMetric() {
		s.node.mem = uint64(value(m))
	}
	each := func(family string, f func(k key, m *dto.Metric, p *point)) {
		for _, m := range fams[family].GetMetric() {
			k := keyOf(m)
			if k.pod == "" || k.container == "" {
				continue
			}
			p := s.containers[k]
			f(k, m, &p)
			s.containers[k] = p
		}
	}
	each("container_cpu_usage_seconds_total", func(_ key, m *dto.Metric, p *point) { p.cpu, p.at = nanos(value(m)), at(m) })
	each("container_memory_working_set_bytes", func(_ key, m *dto.Metric, p *point) { p.mem = uint64(value(m)) })
	each("container_start_time_seconds", func(_ key, m *dto.Metric, p *point) {
		sec, frac := math.Modf(value(m))
		p.start = time.Unix(int64(sec), int64(frac*1e9))
	})
	for k, p := range s.containers {
		if p.at.IsZero() { // memory without CPU: not usable
			delete(s.containers, k)
		}
	}
	return s, nil
}

func keyOf(m *dto.Metric) key {
	var k key
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "namespace":
			k.namespace = l.GetValue()
		case "pod":
			k.pod = l.GetValue()
		case "container":
			k.container = l.GetValue()
		}
	}
	return k
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

func nanos(seconds float64) uint64 {
	if seconds <= 0 {
		return 0
	}
	return uint64(math.Round(seconds * 1e9))
}
