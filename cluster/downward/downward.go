// Package downward answers the downward API's fieldRef paths for a pod, as the kubelet does,
// for both places a pod may ask: a container's environment and a downwardAPI volume (or
// projection) file. Kubernetes allows different paths in each.
package downward

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Use is where a fieldRef is resolved.
type Use int

const (
	// Env is a container's env valueFrom.fieldRef: the pod's name, namespace, uid, one label
	// or annotation, node, service account and addresses.
	Env Use = iota
	// Volume is a downwardAPI volume or projection file: the pod's name, namespace, uid, and
	// its labels or annotations, all of them or one.
	Volume
)

// PodField returns the value of fieldRef path for pod in use; ok is false when Kubernetes
// allows no such path there.
func PodField(pod *corev1.Pod, path string, use Use) (value string, ok bool) {
	switch path {
	case "metadata.name":
		return pod.Name, true
	case "metadata.namespace":
		return pod.Namespace, true
	case "metadata.uid":
		return string(pod.UID), true
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if path == prefix && use == Volume {
			return formatMap(m), true
		}
		if key, ok := subscript(path, prefix); ok {
			return m[key], true
		}
	}
	if use != Env {
		return "", false
	}
	switch path {
	case "spec.nodeName":
		return pod.Spec.NodeName, true
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, true
	case "status.podIP":
		return pod.Status.PodIP, true
	case "status.podIPs":
		return joinIPs(pod.Status.PodIP, pod.Status.PodIPs, func(ip corev1.PodIP) string { return ip.IP }), true
	case "status.hostIP":
		return pod.Status.HostIP, true
	case "status.hostIPs":
		return joinIPs(pod.Status.HostIP, pod.Status.HostIPs, func(ip corev1.HostIP) string { return ip.IP }), true
	}
	return "", false
}

// joinIPs renders a pod's podIPs or hostIPs as the kubelet does: comma-separated, the
// primary address alone when the list is empty.
func joinIPs[T any](primary string, ips []T, ip func(T) string) string {
	if len(ips) == 0 {
		return primary
	}
	out := make([]string, len(ips))
	for i, a := range ips {
		out[i] = ip(a)
	}
	return strings.Join(out, ",")
}

// subscript parses prefix['key'].
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// formatMap renders labels or annotations as the kubelet does: sorted key="value" lines.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return strings.Join(lines, "\n")
}
