package render

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cloud/config"
)

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// TestAgentPodInjectionAndWebSocket moved here from cloud/provider with AgentPod.
func TestAgentPodInjectionAndWebSocket(t *testing.T) {
	tp := docker()
	tp.Name = "java"
	tp.Mode = config.ModeWebSocket
	tp.AgentInjection = true
	tp.Image = "eclipse-temurin:17-jre"
	tp.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	cfg := &config.Config{URL: "http://jenkins.internal:8080", Templates: []config.Template{tp}}
	cfg.Default()
	pod := AgentPod(cfg, cfg.Templates[0], Agent{Namespace: "ns", Node: "java-abcde"})
	if _, ok := pod.Labels[LabelQueueItem]; ok {
		t.Errorf("warm agent has a queue item label")
	}
	if len(pod.Spec.InitContainers) != 1 {
		t.Fatalf("init containers %+v", pod.Spec.InitContainers)
	}
	ic := pod.Spec.InitContainers[0]
	wantInit := []string{"/drover", "fetch-agent", "--url", "http://jenkins.internal:8080/jnlpJars/agent.jar", "--out", "/drover-agent/agent.jar"}
	if ic.Image != ToolsImage || ic.ImagePullPolicy != corev1.PullNever || strings.Join(ic.Command, " ") != strings.Join(wantInit, " ") {
		t.Errorf("init container %+v", ic)
	}
	c := pod.Spec.Containers[0]
	want := "java -jar /drover-agent/agent.jar -jnlpUrl http://jenkins.internal:8080/computer/$(JENKINS_AGENT_NAME)/jenkins-agent.jnlp -secret @/var/run/drover/jenkins-agent/secret -workDir $(JENKINS_AGENT_WORKDIR)"
	if got := strings.Join(c.Command, " "); got != want {
		t.Errorf("command %q\nwant    %q", got, want)
	}
	if envOf(c)["JENKINS_WEB_SOCKET"].Value != "true" {
		t.Errorf("no JENKINS_WEB_SOCKET")
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts[AgentJarVolume] != AgentJarDir || mounts[WorkspaceVolume] != config.DefaultRemoteFS || mounts["cache"] != "/volumes/cache" {
		t.Errorf("mounts %v", mounts)
	}
	if len(ic.VolumeMounts) != 1 || ic.VolumeMounts[0].MountPath != AgentJarDir {
		t.Errorf("init mounts %+v", ic.VolumeMounts)
	}
	// A template command wins; a workspace volume of the template replaces the emptyDir.
	tp.Command = []string{"/entrypoint"}
	tp.Volumes = []corev1.Volume{{Name: WorkspaceVolume, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "ws"}}}}
	pod = AgentPod(cfg, tp, Agent{Namespace: "ns", Node: "java-abcde", QueueItem: 7})
	if strings.Join(pod.Spec.Containers[0].Command, " ") != "/entrypoint" || pod.Labels[LabelQueueItem] != "7" {
		t.Errorf("command %q labels %v", pod.Spec.Containers[0].Command, pod.Labels)
	}
	n := 0
	for _, v := range pod.Spec.Volumes {
		if v.Name == WorkspaceVolume {
			n++
			if v.PersistentVolumeClaim == nil {
				t.Errorf("workspace volume replaced by emptyDir")
			}
		}
	}
	if n != 1 {
		t.Errorf("%d workspace volumes", n)
	}
}

// TestAgentSecretNeverInSpec: in every mode (inbound, WebSocket, agentInjection with either)
// the agent secret reaches the container only as a file of its Secret's volume: no command or
// argument refers to it, no environment variable holds it or a reference to its value
// (JENKINS_SECRET is "@FILE", which remoting and the inbound-agent entrypoint read).
func TestAgentSecretNeverInSpec(t *testing.T) {
	for _, injection := range []bool{false, true} {
		for _, mode := range []string{"", config.ModeWebSocket} {
			tp := docker()
			tp.AgentInjection = injection
			if mode != "" {
				tp.Mode = mode
			}
			cfg := &config.Config{URL: "http://jenkins.internal:8080", Templates: []config.Template{tp}}
			cfg.Default()
			pod := AgentPod(cfg, cfg.Templates[0], Agent{Namespace: "ns", Node: "docker-abcde"})
			c := pod.Spec.Containers[0]
			line := strings.Join(append(append([]string{}, c.Command...), c.Args...), " ")
			if strings.Contains(line, "JENKINS_SECRET") {
				t.Errorf("injection %v mode %q: command line refers to the secret: %q", injection, mode, line)
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					t.Errorf("injection %v mode %q: env %s from a Secret", injection, mode, e.Name)
				}
			}
			if v := envOf(c)["JENKINS_SECRET"].Value; v != "@"+SecretFile {
				t.Errorf("injection %v mode %q: JENKINS_SECRET=%q, want @%s", injection, mode, v, SecretFile)
			}
			mounted := false
			for _, m := range c.VolumeMounts {
				mounted = mounted || (m.Name == SecretVolume && m.MountPath == SecretDir && m.ReadOnly)
			}
			var vol *corev1.SecretVolumeSource
			for _, v := range pod.Spec.Volumes {
				if v.Name == SecretVolume {
					vol = v.Secret
				}
			}
			if !mounted || vol == nil || vol.SecretName != "docker-abcde" {
				t.Errorf("injection %v mode %q: secret volume %+v mounted %v", injection, mode, vol, mounted)
			}
		}
	}
}
