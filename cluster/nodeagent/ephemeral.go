package nodeagent

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// runEphemeralContainers starts each ephemeral container (kubectl debug) of a running pod
// once, as the kubelet: never restarted, never replaced, in the pod's network namespace and,
// with a targetContainerName whose container runs, in that container's PID namespace.
func (w *podWorker) runEphemeralContainers(ctx context.Context) bool {
	for i := range w.pod.Spec.EphemeralContainers {
		ec := &w.pod.Spec.EphemeralContainers[i]
		if w.view.current(ec.Name) != nil {
			continue
		}
		c := corev1.Container(ec.EphemeralContainerCommon)
		w.ephemeralTarget = ""
		if t := w.view.current(ec.TargetContainerName); ec.TargetContainerName != "" && running(t) {
			w.ephemeralTarget = t.ID
		}
		w.startContainer(ctx, &c, 0)
		w.ephemeralTarget = ""
	}
	return true
}

// ephemeralStatuses are the pod's ephemeralContainerStatuses: as any container's, never ready.
func (w *podWorker) ephemeralStatuses() []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for i := range w.pod.Spec.EphemeralContainers {
		c := corev1.Container(w.pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		cs := w.containerStatus(&c)
		cs.Ready = false
		out = append(out, cs)
	}
	return out
}
