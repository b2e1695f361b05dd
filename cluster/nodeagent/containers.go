package nodeagent

import (
	"context"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/probe"
	"github.com/drover-ci/drover/cluster/volume"
)

// syncContainer decides for one container (app, or init when init is set): start it, restart
// it as the restart policy says (after back-off), replace it (an app container whose spec
// changed or whose liveness probe failed) or leave it.
func (w *podWorker) syncContainer(ctx context.Context, c *corev1.Container, init bool) {
	cur := w.view.current(c.Name)
	switch {
	case cur == nil:
		w.startContainer(ctx, c, 0)
	case cur.State == container.StateCreated:
		if err := w.a.cfg.Runtime.Start(ctx, cur.ID); err != nil {
			w.res.wait(c.Name, "RunContainerError", err.Error())
			w.res.again(backoffInitial)
		}
	case cur.State == container.StateRunning:
		if !init { // a running init container is left to finish
			w.checkRunning(ctx, c, cur)
		}
	default: // exited
		w.restartExited(ctx, c, init, cur)
	}
}

// checkRunning stops a running app container whose liveness probe failed and restarts it as
// its restart policy says, and replaces one whose spec changed.
func (w *podWorker) checkRunning(ctx context.Context, c *corev1.Container, cur *container.Container) {
	switch {
	case w.a.probes.result(cur.ID, probe.Liveness) == probe.Failure:
		if exited := w.stop(ctx, c, cur, fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.Name)); exited != nil {
			w.restartExited(ctx, c, false, exited)
		}
	case cur.Labels[LabelHash] != containerHash(c):
		// The preStop hook that runs is the running container's (its spec is no longer the pod's).
		_ = w.kill(ctx, c, cur.ID, fmt.Sprintf("Container %s definition changed, will be restarted", c.Name), gracePeriod(w.pod))
		w.startContainer(ctx, c, attemptOf(*cur)+1)
	}
}

// stop kills a container (kill: its preStop hook, then the pod's grace period) and returns it
// as it ended (nil when it could not be stopped: the next sync tries again).
func (w *podWorker) stop(ctx context.Context, c *corev1.Container, cur *container.Container, message string) *container.Container {
	name := cur.Labels[LabelContainer]
	if err := w.kill(ctx, c, cur.ID, message, gracePeriod(w.pod)); err != nil {
		w.a.log.Warn("stop container", "pod", w.pod.Name, "container", name, "err", err)
		w.res.again(time.Second)
		return nil
	}
	ended, err := w.a.cfg.Runtime.Inspect(ctx, cur.ID)
	if err != nil || ended.State != container.StateExited {
		w.res.again(time.Second)
		return nil
	}
	return &ended
}

// restartExited restarts an exited container when the restart policy says so and its back-off
// has passed; until then it waits in CrashLoopBackOff.
func (w *podWorker) restartExited(ctx context.Context, c *corev1.Container, init bool, cur *container.Container) {
	if !shouldRestart(restartPolicyOf(w.pod, init), cur.ExitCode) {
		return
	}
	if wait := w.restarts.remaining(c.Name, cur.FinishedAt); wait > 0 {
		pod := w.pod
		msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", w.restarts.delay(c.Name), c.Name, pod.Name, pod.Namespace, pod.UID)
		w.res.wait(c.Name, "CrashLoopBackOff", msg)
		w.event(corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)
		w.res.again(wait)
		return
	}
	w.restarts.advance(c.Name, cur.FinishedAt.Sub(cur.StartedAt))
	w.startContainer(ctx, c, attemptOf(*cur)+1)
}

// restartPolicyOf is the restart policy of one of pod's containers: an init container that
// completed is never run again, so Always means OnFailure for it.
func restartPolicyOf(pod *corev1.Pod, init bool) corev1.RestartPolicy {
	p := pod.Spec.RestartPolicy
	if init && p != corev1.RestartPolicyNever {
		return corev1.RestartPolicyOnFailure
	}
	return p
}

func shouldRestart(policy corev1.RestartPolicy, exitCode int) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// startContainer pulls the image as the policy says, and creates and starts attempt n of c.
func (w *podWorker) startContainer(ctx context.Context, c *corev1.Container, attempt int) {
	if reason, msg, wait := w.ensureImage(ctx, c); reason != "" {
		w.res.wait(c.Name, reason, msg)
		w.res.again(wait)
		return
	}
	spec, ok := w.containerSpec(ctx, c, attempt)
	if !ok {
		return
	}
	id, err := w.a.cfg.Runtime.Create(ctx, spec)
	if err != nil {
		w.event(corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.res.wait(c.Name, "CreateContainerError", err.Error())
		w.res.again(backoffInitial)
		return
	}
	w.event(corev1.EventTypeNormal, "Created", "Created container %s", c.Name)
	if err := w.a.cfg.Runtime.Start(ctx, id); err != nil {
		w.event(corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.res.wait(c.Name, "RunContainerError", err.Error())
		w.res.again(backoffInitial)
		return
	}
	w.event(corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	w.postStart(ctx, c, id)
}

// containerSpec resolves c's environment and mounts into the spec of its attempt n; when they
// cannot be resolved it says so in the container's status and returns false.
func (w *podWorker) containerSpec(ctx context.Context, c *corev1.Container, attempt int) (container.Spec, bool) {
	podWithIP := w.pod.DeepCopy()
	podWithIP.Status.PodIP, podWithIP.Status.HostIP = w.infra.IP, w.a.hostIP
	env, err := containerEnv(ctx, w.a, podWithIP, c, w.svcEnv)
	if err != nil {
		w.event(corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.res.wait(c.Name, "CreateContainerConfigError", err.Error())
		w.res.again(2 * time.Second)
		return container.Spec{}, false
	}
	mounts, err := w.mounts(c, env)
	if err != nil {
		w.event(corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.res.wait(c.Name, "CreateContainerConfigError", err.Error())
		w.res.again(2 * time.Second)
		return container.Spec{}, false
	}
	if m, ok, err := w.terminationLogMount(c, attempt); err != nil {
		w.res.wait(c.Name, "CreateContainerConfigError", err.Error())
		w.res.again(2 * time.Second)
		return container.Spec{}, false
	} else if ok {
		mounts = append(mounts, m)
	}
	if m, ok, err := w.hostsMount(c); err != nil {
		w.res.wait(c.Name, "CreateContainerConfigError", err.Error())
		w.res.again(2 * time.Second)
		return container.Spec{}, false
	} else if ok {
		mounts = append(mounts, m)
	}
	if m, ok, err := w.resolvMount(c); err != nil {
		w.res.wait(c.Name, "CreateContainerConfigError", err.Error())
		w.res.again(2 * time.Second)
		return container.Spec{}, false
	} else if ok {
		mounts = append(mounts, m)
	}
	if err := w.checkNonRoot(ctx, c); err != nil {
		w.event(corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.res.wait(c.Name, "CreateContainerConfigError", err.Error())
		w.res.again(2 * time.Second)
		return container.Spec{}, false
	}
	spec := w.appSpec(c, attempt, env, mounts)
	if w.ephemeralTarget != "" {
		spec.PidMode = "container:" + w.ephemeralTarget
	}
	return spec, true
}

// mounts are c's volume mounts: through the volume manager, or (a node without one: hollow)
// as the placeholders its simulated containers never touch.
func (w *podWorker) mounts(c *corev1.Container, env []envVar) ([]container.Mount, error) {
	m := make(map[string]string, len(env))
	for _, e := range env {
		m[e.name] = e.value
	}
	if w.a.cfg.Volumes == nil {
		return volume.Mounts(c, m, w.volumes)
	}
	return w.a.cfg.Volumes.Mounts(w.pod, c, m, w.volumes)
}

// checkNonRoot refuses to start a container with runAsNonRoot whose effective user is root,
// as the kubelet does.
func (w *podWorker) checkNonRoot(ctx context.Context, c *corev1.Container) error {
	sc := effectiveSecurity(w.pod, c)
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		return nil
	}
	user := ""
	if sc.RunAsUser == nil {
		u, err := w.a.cfg.Runtime.ImageUser(ctx, c.Image)
		if err != nil {
			return err
		}
		user = u
	}
	return verifyRunAsNonRoot(w.pod, c, user)
}

func gracePeriod(pod *corev1.Pod) time.Duration {
	g := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		g = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		g = *pod.DeletionGracePeriodSeconds
	}
	// A grace period beyond what a Duration holds would overflow to a negative one (kill at once).
	return time.Duration(min(g, int64(math.MaxInt64/time.Second))) * time.Second
}
