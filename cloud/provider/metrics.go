package provider

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Provisioning stages, in order; a stage's duration is measured from the
// end of the previous one (queued is measured from the queue item's
// inQueueSince to the plan that decided to launch for it).
const (
	StageDecided      = "decided"       // queue item seen → launch decided
	StagePodCreated   = "pod_created"   // decided → Jenkins node, Secret and pod created
	StageRunning      = "running"       // pod created → pod Running
	StageConnected    = "connected"     // pod Running → agent online in Jenkins
	StageBuildStarted = "build_started" // agent online → first build on it
)

// Metrics are the provider's Prometheus metrics.
type Metrics struct {
	// Stage observes seconds per template and stage.
	Stage *prometheus.HistogramVec
	// Failures counts failed agents per template and reason.
	Failures *prometheus.CounterVec
	// Agents gauges agents per template and state.
	Agents *prometheus.GaugeVec
	// Launched counts agents launched per template.
	Launched *prometheus.CounterVec
	// Lost counts agents lost with a build, per template and reason
	// (PodDeleted, Evicted, NodeLost, OOMKilled, Killed, AgentExited).
	Lost *prometheus.CounterVec
	// Requeued counts builds triggered again after their agent was lost,
	// per template and reason.
	Requeued *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (when not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "drover_jenkins_provisioning_stage_seconds",
			Help:    "Duration of each agent provisioning stage (decided, pod_created, running, connected, build_started), per template.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300},
		}, []string{"template", "stage"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_jenkins_agent_failures_total",
			Help: "Agents that failed, per template and reason.",
		}, []string{"template", "reason"}),
		Agents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "drover_jenkins_agents",
			Help: "Agents per template and state (pending, starting, idle, busy, offline).",
		}, []string{"template", "state"}),
		Launched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_jenkins_agents_launched_total",
			Help: "Agents launched, per template.",
		}, []string{"template"}),
		Lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_jenkins_agents_lost_total",
			Help: "Agents lost to infrastructure while they had a build, per template and reason.",
		}, []string{"template", "reason"}),
		Requeued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_jenkins_builds_requeued_total",
			Help: "Builds triggered again after their agent was lost to infrastructure, per template and reason.",
		}, []string{"template", "reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Stage, m.Failures, m.Agents, m.Launched, m.Lost, m.Requeued)
	}
	return m
}
