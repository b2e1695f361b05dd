package app

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func describePod(w *descWriter, p *corev1.Pod) {
	describeMeta(w, p)
	node := p.Spec.NodeName
	if node != "" && p.Status.HostIP != "" {
		node += "/" + p.Status.HostIP
	}
	w.line(0, "Node", node)
	if p.Status.StartTime != nil {
		w.line(0, "Start Time", p.Status.StartTime.Time.Format(time.RFC1123Z))
	}
	status := string(p.Status.Phase)
	if p.DeletionTimestamp != nil {
		status = "Terminating"
	}
	w.line(0, "Status", status)
	if p.Status.Reason != "" {
		w.line(0, "Reason", p.Status.Reason)
	}
	if p.Status.Message != "" {
		w.line(0, "Message", p.Status.Message)
	}
	w.line(0, "IP", p.Status.PodIP)
	statuses := map[string]corev1.ContainerStatus{}
	for _, cs := range p.Status.ContainerStatuses {
		statuses[cs.Name] = cs
	}
	w.header(0, "Containers")
	for _, c := range p.Spec.Containers {
		cs, ok := statuses[c.Name]
		describeContainer(w, 1, c, &cs, ok)
	}
	if len(p.Status.Conditions) > 0 {
		w.header(0, "Conditions")
		fmt.Fprintln(w.w, "  Type\tStatus")
		for _, c := range p.Status.Conditions {
			fmt.Fprintf(w.w, "  %s\t%s\n", c.Type, c.Status)
		}
	}
	describeVolumes(w, 0, p.Spec.Volumes)
	w.multi(0, "Node-Selectors", keyValues(p.Spec.NodeSelector, "="))
	w.line(0, "Restart Policy", p.Spec.RestartPolicy)
}

// describeContainer writes one container; cs is its status when hasStatus.
func describeContainer(w *descWriter, level int, c corev1.Container, cs *corev1.ContainerStatus, hasStatus bool) {
	w.header(level, c.Name)
	l := level + 1
	if hasStatus && cs.ContainerID != "" {
		w.line(l, "Container ID", cs.ContainerID)
	}
	w.line(l, "Image", c.Image)
	w.line(l, "Ports", containerPorts(c.Ports))
	if len(c.Command) > 0 {
		w.multi(l, "Command", c.Command)
	}
	if len(c.Args) > 0 {
		w.multi(l, "Args", c.Args)
	}
	if hasStatus {
		describeState(w, l, "State", cs.State)
		if cs.LastTerminationState != (corev1.ContainerState{}) {
			describeState(w, l, "Last State", cs.LastTerminationState)
		}
		w.line(l, "Ready", titleBool(cs.Ready))
		w.line(l, "Restart Count", cs.RestartCount)
	}
	if c.LivenessProbe != nil {
		w.line(l, "Liveness", probeString(c.LivenessProbe))
	}
	if c.ReadinessProbe != nil {
		w.line(l, "Readiness", probeString(c.ReadinessProbe))
	}
	env := make([]string, 0, len(c.Env))
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = "<set from a reference>"
		}
		env = append(env, e.Name+":  "+v)
	}
	w.multi(l, "Environment", env)
	mounts := make([]string, 0, len(c.VolumeMounts))
	for _, m := range c.VolumeMounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		mounts = append(mounts, fmt.Sprintf("%s from %s (%s)", m.MountPath, m.Name, mode))
	}
	w.multi(l, "Mounts", mounts)
}

func describeState(w *descWriter, level int, key string, s corev1.ContainerState) {
	switch {
	case s.Running != nil:
		w.line(level, key, "Running")
		w.line(level+1, "Started", s.Running.StartedAt.Time.Format(time.RFC1123Z))
	case s.Waiting != nil:
		w.line(level, key, "Waiting")
		w.line(level+1, "Reason", s.Waiting.Reason)
	case s.Terminated != nil:
		w.line(level, key, "Terminated")
		w.line(level+1, "Reason", s.Terminated.Reason)
		w.line(level+1, "Exit Code", s.Terminated.ExitCode)
		w.line(level+1, "Started", s.Terminated.StartedAt.Time.Format(time.RFC1123Z))
		w.line(level+1, "Finished", s.Terminated.FinishedAt.Time.Format(time.RFC1123Z))
	default:
		w.line(level, key, "Waiting")
	}
}

func containerPorts(ports []corev1.ContainerPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		parts[i] = fmt.Sprintf("%d/%s", p.ContainerPort, proto)
	}
	return strings.Join(parts, ", ")
}

// probeString prints a probe like kubectl: "http-get http://:8080/login delay=60s timeout=5s ...".
func probeString(p *corev1.Probe) string {
	var action string
	switch {
	case p.HTTPGet != nil:
		scheme := strings.ToLower(string(p.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		action = fmt.Sprintf("http-get %s://%s:%s%s", scheme, p.HTTPGet.Host, p.HTTPGet.Port.String(), p.HTTPGet.Path)
	case p.TCPSocket != nil:
		action = fmt.Sprintf("tcp-socket %s:%s", p.TCPSocket.Host, p.TCPSocket.Port.String())
	case p.Exec != nil:
		action = fmt.Sprintf("exec %v", p.Exec.Command)
	default:
		action = "unknown"
	}
	return fmt.Sprintf("%s delay=%ds timeout=%ds period=%ds #success=%d #failure=%d", action,
		p.InitialDelaySeconds, p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold)
}

func describeVolumes(w *descWriter, level int, vols []corev1.Volume) {
	if len(vols) == 0 {
		w.line(level, "Volumes", "<none>")
		return
	}
	w.header(level, "Volumes")
	for _, v := range vols {
		w.header(level+1, v.Name)
		l := level + 2
		switch s := v.VolumeSource; {
		case s.HostPath != nil:
			w.line(l, "Type", "HostPath (bare host directory volume)")
			w.line(l, "Path", s.HostPath.Path)
		case s.EmptyDir != nil:
			w.line(l, "Type", "EmptyDir (a temporary directory that shares a pod's lifetime)")
			w.line(l, "Medium", s.EmptyDir.Medium)
		case s.Secret != nil:
			w.line(l, "Type", "Secret (a volume populated by a Secret)")
			w.line(l, "SecretName", s.Secret.SecretName)
		case s.ConfigMap != nil:
			w.line(l, "Type", "ConfigMap (a volume populated by a ConfigMap)")
			w.line(l, "Name", s.ConfigMap.Name)
		case s.PersistentVolumeClaim != nil:
			w.line(l, "Type", "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)")
			w.line(l, "ClaimName", s.PersistentVolumeClaim.ClaimName)
			w.line(l, "ReadOnly", s.PersistentVolumeClaim.ReadOnly)
		default:
			w.line(l, "Type", "<unknown>")
		}
	}
}

func titleBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
