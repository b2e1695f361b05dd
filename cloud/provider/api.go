// Package provider is drover's Jenkins cloud provider: it reads the Jenkins
// build queue and computers and the API's agent pods, plans with
// cloud/planner, launches inbound agents (Jenkins node first, then a Secret
// and the agent pod), retires one-shot and idle agents, reaps failures and
// orphans with a per-template back-off, keeps warm pools and scales swarm
// ReplicationControllers. Everything it knows lives in the API (pod labels
// and annotations) or in Jenkins, so a restarted provider carries on with
// no duplicate and no leak. It runs in the controller manager (leader only).
package provider

import (
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
)

// StatusConfigMap is the ConfigMap (in the provider's namespace) the leader
// writes its Status to, as JSON under StatusKey, when it changes; `drover
// jenkins status` reads it.
const (
	StatusConfigMap = "drover-jenkins-status"
	StatusKey       = "status.json"
	// RequeueConfigMap is the ledger of builds lost to infrastructure and
	// their requeues (one JSON entry per lost build): what a restarted
	// provider must know not to requeue a build twice.
	RequeueConfigMap = "drover-jenkins-requeues"
)

// Options build a Provider.
type Options struct {
	// Config is the validated configuration (config.Load + Validate).
	Config *config.Config
	// Jenkins is the controller's API.
	Jenkins jenkins.Client
	// Kube is the drover API.
	Kube kubernetes.Interface
	// Clock defaults to the real clock.
	Clock clock.WithTicker
	// Recorder records events on agent pods (nil: none).
	Recorder record.EventRecorder
	// Metrics receives the provisioning metrics (nil: none).
	Metrics *Metrics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// MaxPending caps each template's agents not yet connected (pending +
	// starting); 0 = DefaultMaxPending, negative = no cap.
	MaxPending int
	// OrphanInterval is how often orphans are swept after the sweep at
	// start; 0 = DefaultOrphanInterval.
	OrphanInterval time.Duration
	// SyncTimeout bounds one poll of Run (a stalled Jenkins or API answer
	// ends it with an error in Status.JenkinsError); 0 = max(30 s,
	// 10 × pollInterval).
	SyncTimeout time.Duration
}

// Status is what `drover jenkins status` shows. Times are absolute so that
// the document only changes when something happens; the CLI prints ages.
type Status struct {
	UpdatedAt    time.Time        `json:"updatedAt"`
	JenkinsURL   string           `json:"jenkinsUrl"`
	JenkinsError string           `json:"jenkinsError,omitempty"`
	Namespace    string           `json:"namespace"`
	ContainerCap int              `json:"containerCap"`
	Templates    []TemplateStatus `json:"templates"`
	Agents       []AgentStatus    `json:"agents"`
	Queue        []QueueStatus    `json:"queue"`
	// Failures are the most recent agent failures, oldest first (at most 20).
	Failures []Failure `json:"failures,omitempty"`
	// Listener is what the controller's TCP agent listener offers (nil:
	// not read).
	Listener *ListenerStatus `json:"listener,omitempty"`
	// Warnings are configuration problems that do not stop the provider
	// and controller facts that stop some templates (field path first).
	Warnings []string `json:"warnings,omitempty"`
	// Requeues are the builds lost to infrastructure, newest last, and
	// whether each was triggered again.
	Requeues []RequeueStatus `json:"requeues,omitempty"`
}

// ListenerStatus is GET /tcpSlaveAgentListener/ as the provider read it.
type ListenerStatus struct {
	Enabled   bool     `json:"enabled"`
	Port      int      `json:"port,omitempty"`
	Protocols []string `json:"protocols,omitempty"`
	// JNLP4 is whether TCP (inbound, non-WebSocket) agents can connect.
	JNLP4 bool `json:"jnlp4"`
}

// RequeueStatus is one build lost to infrastructure.
type RequeueStatus struct {
	Build    string    `json:"build"`
	Template string    `json:"template"`
	Agent    string    `json:"agent"`
	Reason   string    `json:"reason"` // PodDeleted, Evicted, NodeLost, OOMKilled, Killed, AgentExited
	LostAt   time.Time `json:"lostAt"`
	Attempt  int       `json:"attempt"`
	State    string    `json:"state"` // lost, requeued, not-requeued
	// Detail says why it was not requeued, or the queue item it became.
	Detail string `json:"detail,omitempty"`
}

// TemplateStatus is one template's caps, demand, agents and back-off.
type TemplateStatus struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Mode        string `json:"mode"`
	InstanceCap int    `json:"instanceCap"`
	// MinIdle is the warm pool size in force now (warm schedules applied).
	MinIdle  int `json:"minIdle"`
	Demand   int `json:"demand"`
	Pending  int `json:"pending"`
	Starting int `json:"starting"`
	Idle     int `json:"idle"`
	Busy     int `json:"busy"`
	// Offline counts agents that connected and lost their connection.
	Offline int `json:"offline,omitempty"`
	// BackoffUntil is set while the template is backing off after failures.
	BackoffUntil  *time.Time `json:"backoffUntil,omitempty"`
	BackoffReason string     `json:"backoffReason,omitempty"`
	// Decision is the planner's last reason text.
	Decision string `json:"decision,omitempty"`
}

// AgentStatus is one agent (pod + Jenkins node).
type AgentStatus struct {
	Name     string    `json:"name"`
	Template string    `json:"template"`
	Pod      string    `json:"pod"`
	State    string    `json:"state"` // pending, starting, idle, busy, offline, terminating
	Created  time.Time `json:"created"`
	Reason   string    `json:"reason,omitempty"`
}

// QueueStatus is one waiting queue item: Jenkins' why, and drover's
// reason no agent is coming for it (empty Waiting, and Agent set, when one
// is: the agent launched for it, or a free one).
type QueueStatus struct {
	ID       int64     `json:"id"`
	Task     string    `json:"task"`
	Label    string    `json:"label"`
	Why      string    `json:"why"`
	Since    time.Time `json:"since"`
	Template string    `json:"template,omitempty"`
	// Waiting is drover's reason no agent is coming (empty when one is).
	Waiting string `json:"waiting,omitempty"`
	// Agent is the agent coming for this item, when one is.
	Agent string `json:"agent,omitempty"`
}

// Failure is one agent that failed before or while doing its work.
type Failure struct {
	Time     time.Time `json:"time"`
	Template string    `json:"template"`
	Agent    string    `json:"agent"`
	Reason   string    `json:"reason"` // e.g. ErrImagePull, PendingTimeout, ConnectTimeout, PodFailed, PodLost, AgentLost, LaunchFailed
	Message  string    `json:"message"`
}
