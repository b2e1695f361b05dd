package app

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

func describeRC(ctx context.Context, w *descWriter, cs kubernetes.Interface, rc *corev1.ReplicationController) error {
	describeMeta(w, rc)
	w.line(0, "Selector", strings.Join(keyValues(rc.Spec.Selector, "="), ","))
	w.line(0, "Replicas", fmt.Sprintf("%d current / %d desired", rc.Status.Replicas, replicasOf(rc)))
	pods, err := cs.CoreV1().Pods(rc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(rc.Spec.Selector).String()})
	if err != nil {
		return err
	}
	counts := map[corev1.PodPhase]int{}
	for _, p := range pods.Items {
		counts[p.Status.Phase]++
	}
	w.line(0, "Pods Status", fmt.Sprintf("%d Running / %d Waiting / %d Succeeded / %d Failed",
		counts[corev1.PodRunning], counts[corev1.PodPending], counts[corev1.PodSucceeded], counts[corev1.PodFailed]))
	if t := rc.Spec.Template; t != nil {
		w.header(0, "Pod Template")
		w.multi(1, "Labels", keyValues(t.Labels, "="))
		w.header(1, "Containers")
		for _, c := range t.Spec.Containers {
			describeContainer(w, 2, c, nil, false)
		}
		describeVolumes(w, 1, t.Spec.Volumes)
	}
	return nil
}

func describeService(ctx context.Context, w *descWriter, cs kubernetes.Interface, svc *corev1.Service) error {
	describeMeta(w, svc)
	w.line(0, "Selector", strings.Join(keyValues(svc.Spec.Selector, "="), ","))
	w.line(0, "Type", svc.Spec.Type)
	w.line(0, "IP", svc.Spec.ClusterIP)
	if len(svc.Spec.ExternalIPs) > 0 {
		w.line(0, "External IPs", strings.Join(svc.Spec.ExternalIPs, ","))
	}
	ep, err := cs.CoreV1().Endpoints(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	for _, p := range svc.Spec.Ports {
		name := p.Name
		if name == "" {
			name = "<unset>"
		}
		w.line(0, "Port", fmt.Sprintf("%s  %d/%s", name, p.Port, p.Protocol))
		w.line(0, "TargetPort", fmt.Sprintf("%s/%s", p.TargetPort.String(), p.Protocol))
		if p.NodePort != 0 {
			w.line(0, "NodePort", fmt.Sprintf("%s  %d/%s", name, p.NodePort, p.Protocol))
		}
		w.line(0, "Endpoints", endpointsFor(ep, p.Name))
	}
	w.line(0, "Session Affinity", svc.Spec.SessionAffinity)
	return nil
}

// endpointsFor lists "ip:port" of the ready addresses serving the named port.
func endpointsFor(ep *corev1.Endpoints, port string) string {
	if ep == nil {
		return "<none>"
	}
	var out []string
	for _, ss := range ep.Subsets {
		for _, p := range ss.Ports {
			if p.Name != port {
				continue
			}
			for _, a := range ss.Addresses {
				out = append(out, fmt.Sprintf("%s:%d", a.IP, p.Port))
			}
		}
	}
	return strings.Join(out, ",")
}

func describeNode(ctx context.Context, w *descWriter, cs kubernetes.Interface, n *corev1.Node) error {
	describeMeta(w, n)
	taints := make([]string, len(n.Spec.Taints))
	for i, t := range n.Spec.Taints {
		taints[i] = t.ToString()
	}
	w.multi(0, "Taints", taints)
	w.line(0, "Unschedulable", n.Spec.Unschedulable)
	w.header(0, "Conditions")
	fmt.Fprintln(w.w, "  Type\tStatus\tLastHeartbeatTime\tReason\tMessage")
	for _, c := range n.Status.Conditions {
		fmt.Fprintf(w.w, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, since(c.LastHeartbeatTime.Time), c.Reason, c.Message)
	}
	w.header(0, "Addresses")
	for _, a := range n.Status.Addresses {
		w.line(1, string(a.Type), a.Address)
	}
	describeResources(w, "Capacity", n.Status.Capacity)
	describeResources(w, "Allocatable", n.Status.Allocatable)
	info := n.Status.NodeInfo
	w.header(0, "System Info")
	w.line(1, "Kernel Version", info.KernelVersion)
	w.line(1, "OS Image", info.OSImage)
	w.line(1, "Container Runtime Version", info.ContainerRuntimeVersion)
	w.line(1, "Kubelet Version", info.KubeletVersion)
	w.line(0, "PodCIDR", n.Spec.PodCIDR)
	sel := fields.OneTermEqualSelector("spec.nodeName", n.Name).String()
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return err
	}
	fmt.Fprintf(w.w, "Pods:\t(%d in total)\n", len(pods.Items))
	for _, p := range pods.Items {
		fmt.Fprintf(w.w, "  %s\t%s\t%s\n", p.Namespace, p.Name, p.Status.Phase)
	}
	return nil
}

func describeResources(w *descWriter, key string, rl corev1.ResourceList) {
	if len(rl) == 0 {
		return
	}
	w.header(0, key)
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
		if q, ok := rl[name]; ok {
			w.line(1, string(name), q.String())
		}
	}
}
