package nodeagent

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/node/util/sysctl"

	"github.com/drover-ci/drover/cluster/scheduler"
)

// sysctlForbidden is the kubelet's reason for a pod refused for its sysctls.
const sysctlForbidden = "SysctlForbidden"

// safeSysctls is the kubelet's safe sysctl allowlist of Kubernetes 1.32 (namespaced sysctls a
// pod may set without --allowed-unsafe-sysctls, which drover has not). The Pod Security
// Standards' baseline allows the same set.
var safeSysctls = map[string]bool{
	"kernel.shm_rmid_forced":              true,
	"net.ipv4.ip_local_port_range":        true,
	"net.ipv4.tcp_syncookies":             true,
	"net.ipv4.ping_group_range":           true,
	"net.ipv4.ip_unprivileged_port_start": true,
	"net.ipv4.ip_local_reserved_ports":    true,
	"net.ipv4.tcp_keepalive_time":         true,
	"net.ipv4.tcp_fin_timeout":            true,
	"net.ipv4.tcp_keepalive_intvl":        true,
	"net.ipv4.tcp_keepalive_probes":       true,
	"net.ipv4.tcp_rmem":                   true,
	"net.ipv4.tcp_wmem":                   true,
}

// admitSysctls is the kubelet's sysctl admission handler: a pod asking for a sysctl outside
// the allowlist, or a namespaced one of a namespace it shares with the host, is refused with
// the returned message ("" : admitted).
func admitSysctls(pod *corev1.Pod) string {
	psc := pod.Spec.SecurityContext
	if psc == nil {
		return ""
	}
	for _, s := range psc.Sysctls {
		name := sysctl.NormalizeName(s.Name)
		if !safeSysctls[name] {
			return fmt.Sprintf("forbidden sysctl: %q not allowlisted", name)
		}
		switch ns, _, _ := sysctl.GetNamespace(name); {
		case ns == sysctl.IPCNamespace && pod.Spec.HostIPC:
			return fmt.Sprintf("forbidden sysctl: %q not allowed with host %s enabled", name, ns)
		case ns == sysctl.NetNamespace && pod.Spec.HostNetwork:
			return fmt.Sprintf("forbidden sysctl: %q not allowed with host %s enabled", name, ns)
		}
	}
	return ""
}

// admit runs the kubelet's admission of a pod new to the node (no container of it here yet):
// a refused pod is Failed with the handler's reason and "Pod was rejected: " and its message,
// and a Warning event, as the kubelet's rejectPod does; it never starts. It reports whether
// the pod was refused.
func (w *podWorker) admit(ctx context.Context) (refused bool, err error) {
	if len(w.view.all) > 0 {
		w.a.setAdmitted(w) // running here already: admitted before
		return false, nil
	}
	reason, msg := sysctlForbidden, admitSysctls(w.pod)
	if msg == "" && scheduler.HasHostPorts(w.pod) && scheduler.HostPortsConflict(w.pod, w.a.admittedBefore(w.pod)) {
		reason, msg = nodePorts, "Predicate NodePorts failed: "+scheduler.ReasonPorts
	}
	if msg == "" {
		w.a.setAdmitted(w)
		return false, nil
	}
	w.event(corev1.EventTypeWarning, reason, "%s", msg)
	st := corev1.PodStatus{Phase: corev1.PodFailed, Reason: reason, Message: "Pod was rejected: " + msg,
		QOSClass: w.pod.Status.QOSClass}
	return true, w.report(ctx, st)
}

// nodePorts is the kubelet's reason for a pod refused because a pod admitted before it holds
// one of its host ports (the NodePorts predicate of its general admission): a pod bound to the
// node by name, or by a scheduler that had not seen the other, never starts beside it.
const nodePorts = "NodePorts"

// admittedBefore are the node's other pods that came first and still hold what they were given:
// not finished, and admitted here already or created earlier (the kubelet admits pods in
// creation order; creation times are whole seconds, so within one the UID decides).
func (a *Agent) admittedBefore(pod *corev1.Pod) []*corev1.Pod {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*corev1.Pod
	for _, w := range a.workers {
		p := w.latest
		if p == nil || p.UID == pod.UID || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		earlier := p.CreationTimestamp.Before(&pod.CreationTimestamp) ||
			p.CreationTimestamp.Equal(&pod.CreationTimestamp) && p.UID < pod.UID
		if w.admitted || earlier {
			out = append(out, p)
		}
	}
	return out
}

// setAdmitted records that w's pod passed the node's admission.
func (a *Agent) setAdmitted(w *podWorker) {
	a.mu.Lock()
	w.admitted = true
	a.mu.Unlock()
}

// admitRetry is how soon a pod whose refusal could not be written is looked at again.
const admitRetry = time.Second
