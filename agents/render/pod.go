package render

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cloud/config"
)

// Agent is what makes one agent pod of a template: where and which node.
type Agent struct {
	Namespace string
	// Node is the Jenkins node name, also the pod's and its Secret's name.
	Node string
	// QueueItem is the id of the queue item it is launched for (0: a
	// warm-pool agent).
	QueueItem int64
	// Caches maps each of the template's cache names to the claim leased
	// for this agent.
	Caches map[string]string
	// Annotations are set on the pod as they are.
	Annotations map[string]string
}

// AgentPod builds the pod of inbound agent a of template t (the Jenkins
// node and the Secret named a.Node must exist). The agent secret is the
// Secret mounted as a file (SecretFile), which JENKINS_SECRET names as
// "@FILE" and remoting reads: it is never written in the spec, an
// environment variable or a command line. A WebSocket agent never gets the
// tunnel.
func AgentPod(c *config.Config, t config.Template, a Agent) *corev1.Pod {
	labels := map[string]string{LabelAgent: a.Node, LabelTemplate: t.Name}
	if a.QueueItem > 0 {
		labels[LabelQueueItem] = strconv.FormatInt(a.QueueItem, 10)
	}
	main := corev1.Container{
		Name: AgentContainer, Image: t.Image, Command: t.Command, Args: t.Args, Env: agentEnv(c, t, a.Node),
		Resources: t.Resources, ImagePullPolicy: corev1.PullIfNotPresent,
	}
	spec := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, NodeSelector: t.NodeSelector}
	setIdentity(&spec, t)
	addVolumes(&spec, &main, t, a.Caches)
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: SecretVolume, VolumeSource: corev1.VolumeSource{
		Secret: &corev1.SecretVolumeSource{SecretName: a.Node,
			Items: []corev1.KeyToPath{{Key: SecretKey, Path: SecretKey}}}}})
	main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: SecretVolume, MountPath: SecretDir, ReadOnly: true})
	if t.AgentInjection {
		inject(c, t, &spec, &main)
	}
	spec.Containers = []corev1.Container{main}
	var ann map[string]string
	if len(a.Annotations) > 0 {
		ann = map[string]string{}
		for k, v := range a.Annotations {
			ann[k] = v
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: a.Node, Namespace: a.Namespace, Labels: labels, Annotations: ann},
		Spec:       spec,
	}
}

// agentEnv is the provider's environment (as jenkins/inbound-agent reads
// it) followed by the template's, which cannot replace the first four.
func agentEnv(c *config.Config, t config.Template, node string) []corev1.EnvVar {
	env := []corev1.EnvVar{
		{Name: "JENKINS_URL", Value: AgentURL(c)},
		{Name: "JENKINS_AGENT_NAME", Value: node},
		{Name: "JENKINS_SECRET", Value: "@" + SecretFile},
		{Name: "JENKINS_AGENT_WORKDIR", Value: RemoteFS(t)},
	}
	if tunnel := Tunnel(c, t); tunnel != "" {
		env = append(env, corev1.EnvVar{Name: "JENKINS_TUNNEL", Value: tunnel})
	}
	ws := c.UsesWebSocket(t)
	if ws {
		env = append(env, corev1.EnvVar{Name: "JENKINS_WEB_SOCKET", Value: "true"})
	}
	for _, e := range t.Env {
		switch e.Name {
		case "JENKINS_URL", "JENKINS_AGENT_NAME", "JENKINS_SECRET", "JENKINS_AGENT_WORKDIR":
			continue // the provider's values
		case "JENKINS_TUNNEL":
			if ws {
				continue // remoting refuses it with -webSocket
			}
		}
		env = append(env, e)
	}
	return env
}

// addVolumes adds the template's volumes, the workspace emptyDir unless
// the template has its own, and the leased caches (sorted by name).
func addVolumes(spec *corev1.PodSpec, main *corev1.Container, t config.Template, caches map[string]string) {
	hasWorkspace := false
	for _, v := range t.Volumes {
		spec.Volumes = append(spec.Volumes, v)
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: v.Name, MountPath: VolumeMountPath(t, v.Name)})
		hasWorkspace = hasWorkspace || v.Name == WorkspaceVolume
	}
	if !hasWorkspace {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: WorkspaceVolume,
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: WorkspaceVolume, MountPath: RemoteFS(t)})
	}
	cs := append([]config.Cache(nil), t.Caches...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	for _, c := range cs {
		claim := caches[c.Name]
		if claim == "" {
			continue
		}
		name := CacheVolumePrefix + c.Name
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: c.MountPath})
	}
}

// inject adds the init container that fetches the controller's agent.jar
// and, unless the template has a command, runs it in the agent container.
func inject(c *config.Config, t config.Template, spec *corev1.PodSpec, main *corev1.Container) {
	jar := AgentJarDir + "/agent.jar"
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: AgentJarVolume,
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	mount := corev1.VolumeMount{Name: AgentJarVolume, MountPath: AgentJarDir}
	main.VolumeMounts = append(main.VolumeMounts, mount)
	spec.InitContainers = []corev1.Container{{
		Name: FetchAgentContainer, Image: ToolsImage, ImagePullPolicy: corev1.PullNever,
		Command: []string{"/drover", "fetch-agent", "--url",
			strings.TrimRight(AgentURL(c), "/") + "/jnlpJars/agent.jar", "--out", jar},
		VolumeMounts: []corev1.VolumeMount{mount},
	}}
	if len(t.Command) > 0 {
		return
	}
	// agent.jar's own launcher: it reads "-secret @FILE" (hudson.remoting.jnlp.Main takes the
	// secret only as an argument) and the rest — URL, name, -webSocket — from the node's jnlp
	// file, as the controller's "run from agent command line" instructions do.
	jnlp := strings.TrimRight(AgentURL(c), "/") + "/computer/$(JENKINS_AGENT_NAME)/jenkins-agent.jnlp"
	cmd := []string{"java", "-jar", jar, "-jnlpUrl", jnlp, "-secret", "@" + SecretFile}
	if Tunnel(c, t) != "" {
		cmd = append(cmd, "-tunnel", "$(JENKINS_TUNNEL)")
	}
	main.Command = append(cmd, "-workDir", "$(JENKINS_AGENT_WORKDIR)")
}

// setIdentity makes the pod run as the template's ServiceAccount (default:
// the namespace's "default", which has no bindings) with no API token
// mounted unless the template asks for one: a build runs the code it checks
// out, and must not inherit any power over the cluster by default.
func setIdentity(spec *corev1.PodSpec, t config.Template) {
	spec.ServiceAccountName = t.ServiceAccount
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = DefaultServiceAccount
	}
	automount := t.AutomountServiceAccountToken
	spec.AutomountServiceAccountToken = &automount
}
