package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/planner"
)

// ToolsImage is the image every node agent builds from its own drover
// binary (FROM scratch, the binary at /drover); agentInjection runs its
// `drover fetch-agent` as an init container.
const ToolsImage = "drover/tools:1"

// Names in agent pods.
const (
	// SecretKey is the key of the agent secret in the agent's Secret.
	SecretKey = "secret"
	// AgentContainer is the name of the agent container.
	AgentContainer = "jnlp"
	// FetchAgentContainer is the name of the agentInjection init container.
	FetchAgentContainer = "fetch-agent"
	// WorkspaceVolume is the volume mounted at remoteFS; a template volume
	// of that name replaces the default emptyDir.
	WorkspaceVolume = "workspace"
	// AgentJarVolume is the emptyDir agentInjection shares between containers.
	AgentJarVolume = "drover-agent"
	// AgentJarDir is where AgentJarVolume is mounted.
	AgentJarDir = "/drover-agent"
	// VolumesDir is where a template volume other than WorkspaceVolume is
	// mounted, as VolumesDir/NAME.
	VolumesDir = "/volumes"
)

// VolumeMountPath is where a template volume is mounted in the agent
// container: the workspace volume at remoteFS, any other at VolumesDir/NAME.
func VolumeMountPath(t config.Template, volume string) string {
	if volume == WorkspaceVolume {
		return remoteFS(t)
	}
	return VolumesDir + "/" + volume
}

func remoteFS(t config.Template) string {
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

// webSocket reports whether agents of t connect over WebSocket.
func webSocket(c *config.Config, t config.Template) bool {
	return t.Mode == config.ModeWebSocket || (t.Mode != config.ModeSwarm && c.WebSocket)
}

// AgentPod builds the pod of inbound agent node of template t (the
// Jenkins node and the Secret named node must exist); queueItem is the id
// of the queue item it is launched for (0: a warm-pool agent). The agent
// secret is read from the Secret through a secretKeyRef, never written in
// the spec.
func AgentPod(c *config.Config, t config.Template, namespace, node string, queueItem int64) *corev1.Pod {
	labels := map[string]string{LabelAgent: node, LabelTemplate: t.Name}
	if queueItem > 0 {
		labels[LabelQueueItem] = strconv.FormatInt(queueItem, 10)
	}
	fs := remoteFS(t)
	ws := webSocket(c, t)
	ours := []corev1.EnvVar{
		{Name: "JENKINS_URL", Value: AgentURL(c)},
		{Name: "JENKINS_AGENT_NAME", Value: node},
		{Name: "JENKINS_SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: node}, Key: SecretKey}}},
		{Name: "JENKINS_AGENT_WORKDIR", Value: fs},
	}
	if c.JenkinsTunnel != "" {
		ours = append(ours, corev1.EnvVar{Name: "JENKINS_TUNNEL", Value: c.JenkinsTunnel})
	}
	if ws {
		ours = append(ours, corev1.EnvVar{Name: "JENKINS_WEB_SOCKET", Value: "true"})
	}
	env := ours
	for _, e := range t.Env {
		switch e.Name {
		case "JENKINS_URL", "JENKINS_AGENT_NAME", "JENKINS_SECRET", "JENKINS_AGENT_WORKDIR":
			continue // the provider's values
		}
		env = append(env, e)
	}
	main := corev1.Container{
		Name: AgentContainer, Image: t.Image, Command: t.Command, Args: t.Args, Env: env,
		Resources: t.Resources, ImagePullPolicy: corev1.PullIfNotPresent,
	}
	spec := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, NodeSelector: t.NodeSelector}
	hasWorkspace := false
	for _, v := range t.Volumes {
		spec.Volumes = append(spec.Volumes, v)
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: v.Name, MountPath: VolumeMountPath(t, v.Name)})
		hasWorkspace = hasWorkspace || v.Name == WorkspaceVolume
	}
	if !hasWorkspace {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: WorkspaceVolume,
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: WorkspaceVolume, MountPath: fs})
	}
	if t.AgentInjection {
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
		if len(t.Command) == 0 {
			cmd := []string{"java", "-cp", jar, "hudson.remoting.jnlp.Main", "-headless", "-url", "$(JENKINS_URL)"}
			if c.JenkinsTunnel != "" {
				cmd = append(cmd, "-tunnel", "$(JENKINS_TUNNEL)")
			}
			if ws {
				cmd = append(cmd, "-webSocket")
			}
			main.Command = append(cmd, "-workDir", "$(JENKINS_AGENT_WORKDIR)", "$(JENKINS_SECRET)", "$(JENKINS_AGENT_NAME)")
		}
	}
	spec.Containers = []corev1.Container{main}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: namespace, Labels: labels},
		Spec:       spec,
	}
}

// nodeName returns a fresh `<template>-<5 random [a-z0-9]>` name not in taken.
func nodeName(template string, taken map[string]bool) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for {
		b := make([]byte, 5)
		for i := range b {
			b[i] = alphabet[rand.IntN(len(alphabet))]
		}
		n := template + "-" + string(b)
		if !taken[n] {
			taken[n] = true
			return n
		}
	}
}

// launch creates one agent: the Jenkins node, its Secret, the pod, then the
// Secret's ownerReference to the pod. A failing step undoes the earlier ones.
func (p *Provider) launch(ctx context.Context, w *world, t config.Template, item *jenkins.QueueItem, decided time.Time, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	p.launching[name] = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.launching, name)
		p.mu.Unlock()
	}()
	spec := jenkins.NodeSpec{Name: name, Description: p.nodeDescription(t.Name), RemoteFS: remoteFS(t),
		Labels: t.Labels(), Executors: 1, WebSocket: webSocket(p.cfg, t), Mode: planner.NodeMode(t.Label)}
	if err := p.opts.Jenkins.CreateInboundNode(ctx, spec); err != nil {
		return nil, fmt.Errorf("provider: launch %s: %w", name, err)
	}
	undo := func(err error, secret bool) (*corev1.Pod, error) {
		// The context may be the one that just ended: undo with a fresh one.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		errs := []error{err}
		if secret {
			if derr := p.opts.Kube.CoreV1().Secrets(p.ns).Delete(uctx, name, metav1.DeleteOptions{}); derr != nil && !apierrors.IsNotFound(derr) {
				errs = append(errs, fmt.Errorf("undo: delete secret: %w", derr))
			}
		}
		errs = append(errs, p.deleteNode(uctx, name))
		return nil, fmt.Errorf("provider: launch %s: %w", name, errors.Join(errs...))
	}
	secret, err := p.opts.Jenkins.AgentSecret(ctx, name)
	if err != nil {
		return undo(err, false)
	}
	labels := map[string]string{LabelAgent: name, LabelTemplate: t.Name}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: p.ns, Labels: labels},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{SecretKey: []byte(secret)}}
	if _, err := p.opts.Kube.CoreV1().Secrets(p.ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		return undo(fmt.Errorf("create secret: %w", err), false)
	}
	var id int64
	if item != nil {
		id = item.ID
	}
	pod := AgentPod(p.cfg, t, p.ns, name, id)
	created := p.clock.Now()
	pod.Annotations = map[string]string{AnnotationCreatedAt: stamp(created)}
	got, err := p.opts.Kube.CoreV1().Pods(p.ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return undo(fmt.Errorf("create pod: %w", err), true)
	}
	owner, _ := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Pod", Name: got.Name, UID: got.UID}}}})
	if _, err := p.opts.Kube.CoreV1().Secrets(p.ns).Patch(ctx, name, types.MergePatchType, owner, metav1.PatchOptions{}); err != nil {
		// Not fatal: the orphan sweep deletes the Secret once the pod is gone.
		p.log.Warn("could not make the agent pod own its Secret", "agent", name, "err", err)
	}
	if m := p.opts.Metrics; m != nil {
		m.Launched.WithLabelValues(t.Name).Inc()
		if item != nil && !item.InQueueSince.IsZero() {
			m.Stage.WithLabelValues(t.Name, StageDecided).Observe(max(0, decided.Sub(item.InQueueSince).Seconds()))
		}
		m.Stage.WithLabelValues(t.Name, StagePodCreated).Observe(max(0, p.clock.Now().Sub(decided).Seconds()))
	}
	p.log.Info("launched Jenkins agent", "agent", name, "template", t.Name, "queueItem", id)
	return got, nil
}
