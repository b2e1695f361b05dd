package nodeagent

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
)

// TestHollowResourceMetrics: /metrics/resource reports each running app container's
// cumulative CPU (growing at the rate its runtime reports) and working set under the
// kubelet's names, leaves the infra container out, and sums the node.
func TestHollowResourceMetrics(t *testing.T) {
	h := startHollow(t)
	mux := http.NewServeMux()
	h.agent.RegisterMetrics(mux)
	h.create(hollowPod("busy", hollowContainer("burn", "HOLLOW_CPU=250m", "HOLLOW_MEMORY=64Mi"), hollowContainer("idle")))
	h.waitPod("busy", "running", func(p *corev1.Pod) bool { return isReady(p) })

	first := scrape(t, mux)
	var second map[string]*dto.MetricFamily
	h.poll(20*time.Second, "a later sample", func() (bool, string) {
		second = scrape(t, mux)
		return value(second, "container_cpu_usage_seconds_total", "burn") > value(first, "container_cpu_usage_seconds_total", "burn")+1, ""
	})
	cpu := func(fams map[string]*dto.MetricFamily) (float64, int64) {
		m := metric(fams, "container_cpu_usage_seconds_total", "burn")
		return m.GetCounter().GetValue(), m.GetTimestampMs()
	}
	c1, t1 := cpu(first)
	c2, t2 := cpu(second)
	if rate := (c2 - c1) / (float64(t2-t1) / 1000); rate < 0.249 || rate > 0.251 {
		t.Errorf("burn used %.4f cores between samples, want 0.25", rate)
	}
	if got := value(second, "container_memory_working_set_bytes", "burn"); got != 64<<20 {
		t.Errorf("burn working set %v, want %d", got, 64<<20)
	}
	if got := value(second, "container_memory_working_set_bytes", "idle"); got != 2<<20 {
		t.Errorf("idle working set %v, want 2 MiB", got)
	}
	for _, m := range second["container_cpu_usage_seconds_total"].Metric {
		for _, l := range m.Label {
			if l.GetName() == "container" && l.GetValue() == infraName {
				t.Errorf("the infra container is reported: %v", m)
			}
			if l.GetName() == "pod" && l.GetValue() != "busy" {
				t.Errorf("unexpected pod: %v", m)
			}
		}
	}
	if n1, n2 := nodeValue(first, "node_cpu_usage_seconds_total"), nodeValue(second, "node_cpu_usage_seconds_total"); n2-n1 < c2-c1-1e-6 {
		t.Errorf("node CPU grew %.3f s, its containers %.3f s", n2-n1, c2-c1)
	}
	if got := nodeValue(second, "node_memory_working_set_bytes"); got != 66<<20 {
		t.Errorf("node working set %v, want 66 MiB", got)
	}
}

func scrape(t *testing.T, mux *http.ServeMux) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/resource", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics/resource: %d %s", rec.Code, rec.Body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parsing %q: %v", rec.Body, err)
	}
	return fams
}

func metric(fams map[string]*dto.MetricFamily, name, ctr string) *dto.Metric {
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == "container" && l.GetValue() == ctr {
				return m
			}
		}
	}
	return &dto.Metric{}
}

func value(fams map[string]*dto.MetricFamily, name, ctr string) float64 {
	m := metric(fams, name, ctr)
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.GetGauge().GetValue()
}

func nodeValue(fams map[string]*dto.MetricFamily, name string) float64 {
	ms := fams[name].GetMetric()
	if len(ms) != 1 {
		return -1
	}
	if ms[0].Counter != nil {
		return ms[0].Counter.GetValue()
	}
	return ms[0].GetGauge().GetValue()
}
