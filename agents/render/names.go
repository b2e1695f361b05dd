// Package render builds the Kubernetes objects of Jenkins agents from the
// cloud configuration: the pod of an inbound agent (TCP or WebSocket, with
// or without agentInjection, with its leased caches), the
// ReplicationController of a swarm template, and the PersistentVolume and
// claim behind one cache. It does no I/O; the cloud provider creates what
// it returns. The label and annotation names here are what the provider
// finds its objects by.
package render

import (
	"strconv"
	"strings"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cluster/container"
)

// Labels on the objects the provider creates.
const (
	// LabelAgent on an agent pod (and its Secret) is the Jenkins node name.
	LabelAgent = "drover.io/jenkins-agent"
	// LabelTemplate on an agent pod (and its Secret, a swarm RC, a cache
	// claim and volume) is the template name.
	LabelTemplate = "drover.io/jenkins-template"
	// LabelQueueItem on an agent pod is the id of the queue item it was
	// launched for (absent for warm-pool agents).
	LabelQueueItem = "drover.io/jenkins-queue-item"
	// LabelCache on a cache claim and its volume is the cache name.
	LabelCache = "drover.io/jenkins-cache"
)

// ToolsImage is the image every node agent builds from its own drover
// binary (FROM scratch, the binary at /drover); agentInjection runs its
// `drover fetch-agent` as an init container.
const ToolsImage = container.ToolsImage

// Names in agent pods.
const (
	// DefaultServiceAccount is the ServiceAccount agent pods run as when
	// their template names none: the namespace's own, with no bindings.
	DefaultServiceAccount = "default"
	// SecretKey is the key of the agent secret in the agent's Secret.
	SecretKey = "secret"
	// AgentContainer is the name of the agent container.
	AgentContainer = "jnlp"
	// FetchAgentContainer is the name of the agentInjection init container.
	FetchAgentContainer = "fetch-agent"
	// WorkspaceVolume is the volume mounted at remoteFS; a template volume
	// of that name replaces the default emptyDir.
	WorkspaceVolume = "workspace"
	// SecretVolume is the agent's Secret as a volume, mounted read-only at SecretDir in the
	// agent container: remoting reads the secret from SecretFile (`-secret @FILE`), so it is
	// never on a command line (the host's process list, docker inspect) nor in the environment.
	SecretVolume = "jenkins-agent-secret"
	SecretDir    = "/var/run/drover/jenkins-agent"
	SecretFile   = SecretDir + "/" + SecretKey
	// AgentJarVolume is the emptyDir agentInjection shares between containers.
	AgentJarVolume = "drover-agent"
	// AgentJarDir is where AgentJarVolume is mounted.
	AgentJarDir = "/drover-agent"
	// VolumesDir is where a template volume other than WorkspaceVolume is
	// mounted, as VolumesDir/NAME.
	VolumesDir = "/volumes"
	// CacheVolumePrefix starts the pod volume name of a cache (+ cache name).
	CacheVolumePrefix = "cache-"
	// SwarmPrefix starts the name of a swarm template's ReplicationController
	// (SwarmPrefix + template name). Its pods are named after it, and so are
	// the Jenkins nodes their swarm clients register (pod name + "-" + a hash).
	SwarmPrefix = "jenkins-swarm-"
)

// VolumeMountPath is where a template volume is mounted in the agent
// container: the workspace volume at remoteFS, any other at VolumesDir/NAME.
func VolumeMountPath(t config.Template, volume string) string {
	if volume == WorkspaceVolume {
		return RemoteFS(t)
	}
	return VolumesDir + "/" + volume
}

// RemoteFS is the template's agent work directory.
func RemoteFS(t config.Template) string {
	if t.RemoteFS != "" {
		return t.RemoteFS
	}
	return config.DefaultRemoteFS
}

// AgentURL is the controller URL agents use: jenkinsUrl, else url.
func AgentURL(c *config.Config) string {
	if c.JenkinsURL != "" {
		return c.JenkinsURL
	}
	return c.URL
}

// Tunnel is the jenkinsTunnel agents of t get: none for WebSocket agents
// (remoting refuses -webSocket with -tunnel and exits).
func Tunnel(c *config.Config, t config.Template) string {
	if c.UsesWebSocket(t) {
		return ""
	}
	return c.JenkinsTunnel
}

// CacheClaimName is the name of claim (and volume) number n of a cache.
func CacheClaimName(template, cache string, n int) string {
	return "jenkins-cache-" + template + "-" + cache + "-" + strconv.Itoa(n)
}

// CacheIndex is n of a claim named by CacheClaimName (-1 if not one).
func CacheIndex(template, cache, claim string) int {
	rest, ok := strings.CutPrefix(claim, "jenkins-cache-"+template+"-"+cache+"-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}
