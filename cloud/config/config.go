// Package config holds the Jenkins cloud provider's configuration, named as
// the Kubernetes plugin names it (issue "Jenkins cloud", item 1). It takes
// bytes (Load) and checks them (Validate); reading files, env and flags is
// cmd/'s job (viper lives there only).
package config

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Agent connection modes of a Template.
const (
	ModeInbound   = "inbound"
	ModeWebSocket = "websocket"
	ModeSwarm     = "swarm"
)

// Defaults applied by Load (and by Default).
const (
	DefaultPollInterval = time.Second
	DefaultRemoteFS     = "/home/jenkins/agent"
	DefaultMode         = ModeInbound
	// DefaultRetryLostBuilds is how often a build lost to infrastructure is
	// triggered again when the template does not say.
	DefaultRetryLostBuilds = 1
	// DefaultCacheRoot is the host directory under which the provider
	// creates the hostPath PersistentVolumes of template caches.
	DefaultCacheRoot = "/var/lib/drover/jenkins-caches"
)

// DefaultNamespace is the provider's namespace when the configuration names none.
const DefaultNamespace = "default"

// Config is the provider's configuration.
type Config struct {
	// URL is where drover reaches the Jenkins controller.
	URL         string      `json:"url"`
	Credentials Credentials `json:"credentials"`
	// JenkinsURL is the controller URL as the agents should use it.
	JenkinsURL string `json:"jenkinsUrl,omitempty"`
	// JenkinsTunnel is HOST:PORT of the agent port as the agents reach it.
	JenkinsTunnel  string          `json:"jenkinsTunnel,omitempty"`
	WebSocket      bool            `json:"webSocket,omitempty"`
	ConnectTimeout metav1.Duration `json:"connectTimeout,omitempty"`
	ReadTimeout    metav1.Duration `json:"readTimeout,omitempty"`
	// ContainerCap caps agent pods across all templates; 0 = no cap.
	ContainerCap int `json:"containerCap,omitempty"`
	// Namespace holds the agent pods and Secrets and the status ConfigMap;
	// empty means DefaultNamespace (see ProviderNamespace).
	Namespace string `json:"namespace,omitempty"`
	// PollInterval is how often the queue is read (default 1s).
	PollInterval metav1.Duration `json:"pollInterval,omitempty"`
	// CacheRoot is the host directory holding the template caches' volumes
	// (CacheRoot/NAMESPACE/CLAIM); empty means DefaultCacheRoot.
	CacheRoot string     `json:"cacheRoot,omitempty"`
	Templates []Template `json:"templates,omitempty"`
}

// Credentials name where the Jenkins API token is found (an environment
// variable, a file, or a Secret); the token itself
// is never part of the configuration, never logged, never given to agents.
type Credentials struct {
	User      string `json:"user,omitempty"`
	TokenEnv  string `json:"tokenEnv,omitempty"`
	TokenFile string `json:"tokenFile,omitempty"`
	// Secret names a Secret in the provider's namespace with the keys
	// "user" and "token" (User, when set, wins over the Secret's user).
	Secret string `json:"secret,omitempty"`
}

// Template describes one kind of agent.
type Template struct {
	Name string `json:"name"`
	// Label is the space-separated list of labels the agents carry.
	Label    string   `json:"label,omitempty"`
	Image    string   `json:"image"`
	Command  []string `json:"command,omitempty"`
	Args     []string `json:"args,omitempty"`
	RemoteFS string   `json:"remoteFS,omitempty"`
	// InstanceCap caps this template's agent pods; 0 = no cap.
	InstanceCap int `json:"instanceCap,omitempty"`
	// IdleMinutes: 0 = one build, then the agent goes.
	IdleMinutes   int                         `json:"idleMinutes,omitempty"`
	MinIdle       int                         `json:"minIdle,omitempty"`
	WarmSchedules []WarmSchedule              `json:"warmSchedules,omitempty"`
	Resources     corev1.ResourceRequirements `json:"resources,omitempty"`
	Env           []corev1.EnvVar             `json:"env,omitempty"`
	Volumes       []corev1.Volume             `json:"volumes,omitempty"`
	NodeSelector  map[string]string           `json:"nodeSelector,omitempty"`
	// ConnectTimeout bounds pod created → agent connected.
	ConnectTimeout metav1.Duration `json:"connectTimeout,omitempty"`
	// PendingTimeout bounds how long a pod may stay Pending.
	PendingTimeout metav1.Duration `json:"pendingTimeout,omitempty"`
	// Mode is inbound (default), websocket or swarm.
	Mode string `json:"mode,omitempty"`
	// AgentInjection runs the controller's /jnlpJars/agent.jar in Image.
	AgentInjection bool `json:"agentInjection,omitempty"`
	// WebSocket makes this template's agents connect over WebSocket (as
	// mode websocket does).
	WebSocket bool `json:"webSocket,omitempty"`
	// RetryLostBuilds is how many times a build whose agent was lost to
	// infrastructure (pod deleted or evicted, node lost, container
	// OOM-killed or killed by a signal) is triggered again; nil means
	// DefaultRetryLostBuilds, 0 turns it off.
	RetryLostBuilds *int `json:"retryLostBuilds,omitempty"`
	// Caches are sticky volumes: each agent leases one PersistentVolumeClaim
	// per cache that no running agent holds.
	Caches []Cache `json:"caches,omitempty"`
	// ServiceAccount is the ServiceAccount the agent pods run as (the
	// Kubernetes plugin's serviceAccount); empty means the namespace's
	// "default", which no binding grants anything.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// AutomountServiceAccountToken mounts the ServiceAccount's API token
	// into the agent pods (the pod field's name). Unlike a plain pod's, the
	// default is false: a build runs whatever code it checks out, and gets
	// no credential for the API unless the template asks for one.
	AutomountServiceAccountToken bool `json:"automountServiceAccountToken,omitempty"`
}

// Cache is a per-template pool of PersistentVolumeClaims mounted at
// MountPath, each of Size, leased by one agent at a time.
type Cache struct {
	Name      string            `json:"name"`
	MountPath string            `json:"mountPath"`
	Size      resource.Quantity `json:"size"`
}

// Retries is RetryLostBuilds with its default applied.
func (t Template) Retries() int {
	if t.RetryLostBuilds == nil {
		return DefaultRetryLostBuilds
	}
	return *t.RetryLostBuilds
}

// UsesWebSocket reports whether the template's agents connect over
// WebSocket: mode websocket, or webSocket set on the template or the
// configuration (swarm agents never do).
func (c *Config) UsesWebSocket(t Template) bool {
	if t.Mode == ModeSwarm {
		return false
	}
	return t.Mode == ModeWebSocket || t.WebSocket || c.WebSocket
}

// CacheDir is CacheRoot, or DefaultCacheRoot when it is empty.
func (c *Config) CacheDir() string {
	if c.CacheRoot != "" {
		return c.CacheRoot
	}
	return DefaultCacheRoot
}

// WarmSchedule raises a template's MinIdle for Duration from each time the
// standard 5-field Cron expression fires.
type WarmSchedule struct {
	Cron     string          `json:"cron"`
	Duration metav1.Duration `json:"duration"`
	MinIdle  int             `json:"minIdle"`
}
