package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/volume"
)

// waiting is why a container is not running, for its status.
type waiting struct{ reason, message string }

// syncResult collects what one sync learnt for the status.
type syncResult struct {
	waiting map[string]waiting
	next    time.Duration // when to look again (0: on change only)
}

func (r *syncResult) wait(name, reason, message string) {
	r.waiting[name] = waiting{reason, message}
}

func (r *syncResult) again(d time.Duration) {
	if d > 0 && (r.next == 0 || d < r.next) {
		r.next = d
	}
}

// syncPod brings one pod's containers to what its spec says and reports its status. It
// returns when to look again (0: only when something changes).
func (a *Agent) syncPod(ctx context.Context, uid types.UID) (time.Duration, error) {
	cs, err := a.cfg.Runtime.List(ctx, map[string]string{LabelPodUID: string(uid), LabelNode: a.cfg.NodeName})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	pod := a.pod(uid)
	switch {
	case pod == nil:
		return 0, a.cleanupPod(ctx, uid, cs)
	case pod.DeletionTimestamp != nil:
		return a.terminate(ctx, pod, cs)
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return 0, a.stopFinished(ctx, pod, newPodView(cs))
	}
	res := &syncResult{waiting: map[string]waiting{}}
	if err := a.syncContainers(ctx, pod, newPodView(cs), res); err != nil {
		return 0, err
	}
	cs, err = a.cfg.Runtime.List(ctx, map[string]string{LabelPodUID: string(uid), LabelNode: a.cfg.NodeName})
	if err != nil {
		return 0, fmt.Errorf("list containers: %w", err)
	}
	view := newPodView(cs)
	a.probes.sync(pod, view)
	if settling(view, a.cfg.Clock.Now()) {
		// Docker marks an OOM kill a moment after the exit: wait before writing a status that
		// may be final (a pod that failed stays failed).
		return time.Second, nil
	}
	status := a.podStatus(pod, view, res)
	if err := a.updateStatus(ctx, pod, status); err != nil {
		return 0, err
	}
	if status.Phase == corev1.PodSucceeded || status.Phase == corev1.PodFailed {
		res.again(time.Second) // stop the infra container next round
	}
	return res.next, nil
}

// syncContainers starts the infra container, then the init containers one at a time, each
// to successful completion, then every app container that should run.
func (a *Agent) syncContainers(ctx context.Context, pod *corev1.Pod, view *podView, res *syncResult) error {
	if err := a.ensurePause(ctx); err != nil {
		waitAll(pod, view, res, "ContainerCreating", err.Error())
		res.again(5 * time.Second)
		return nil
	}
	var sources map[string]volume.Source
	if a.cfg.Volumes != nil && len(pod.Spec.Volumes) > 0 {
		var err error
		sources, err = a.cfg.Volumes.Setup(ctx, pod)
		if err != nil {
			a.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: %v", err)
			waitAll(pod, view, res, "ContainerCreating", "")
			res.again(2 * time.Second)
			return nil
		}
	} else if len(pod.Spec.Volumes) > 0 && a.cfg.Volumes == nil && !hollowVolumesOK(pod) {
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "this node cannot mount volumes")
	}
	infra, err := a.ensureInfra(ctx, pod, view)
	if err != nil {
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		waitAll(pod, view, res, "ContainerCreating", "")
		res.again(2 * time.Second)
		return nil
	}
	svcEnv := a.serviceEnvFor(pod)
	if !a.syncInitContainers(ctx, pod, infra, view, sources, svcEnv, res) {
		for _, c := range pod.Spec.Containers {
			res.wait(c.Name, "PodInitializing", "")
		}
		a.pruneAttempts(ctx, view)
		return nil
	}
	for i := range pod.Spec.Containers {
		a.syncContainer(ctx, pod, &pod.Spec.Containers[i], false, infra, view, sources, svcEnv, res)
	}
	a.pruneAttempts(ctx, view)
	return nil
}

// waitAll marks every container of pod that has not started yet as waiting: app containers
// with reason, init containers (and app containers behind unfinished init containers) with
// PodInitializing, as the kubelet reports them.
func waitAll(pod *corev1.Pod, view *podView, res *syncResult, reason, message string) {
	initialized := initDone(pod, view)
	for _, c := range pod.Spec.InitContainers {
		if view.current(c.Name) == nil { // one that ran keeps its own state (e.g. Completed)
			res.wait(c.Name, "PodInitializing", "")
		}
	}
	for _, c := range pod.Spec.Containers {
		if view.current(c.Name) != nil {
			continue
		}
		if initialized {
			res.wait(c.Name, reason, message)
		} else {
			res.wait(c.Name, "PodInitializing", "")
		}
	}
}

// syncInitContainers runs the pod's init containers in order, each to successful completion,
// and reports whether all have completed (so the app containers may start). It starts or
// restarts (after back-off, unless restartPolicy is Never) the first one that has not
// completed and leaves the later ones waiting. Completed attempts are found by their labels,
// so an agent restarted over a running pod does not run them again; once an app container
// exists the pod counts as initialized (its init containers may have been removed).
func (a *Agent) syncInitContainers(ctx context.Context, pod *corev1.Pod, infra *container.Container,
	view *podView, sources map[string]volume.Source, svcEnv []envVar, res *syncResult) bool {
	if initDone(pod, view) {
		return true
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if cur := view.current(c.Name); cur != nil && cur.State == container.StateExited && cur.ExitCode == 0 {
			continue
		}
		a.syncContainer(ctx, pod, c, true, infra, view, sources, svcEnv, res)
		for _, later := range pod.Spec.InitContainers[i+1:] {
			res.wait(later.Name, "PodInitializing", "")
		}
		return false
	}
	return true
}

// initDone reports whether the pod's initialization is over: every init container's newest
// attempt exited 0, or an app container has been created already.
func initDone(pod *corev1.Pod, view *podView) bool {
	for _, c := range pod.Spec.Containers {
		if view.current(c.Name) != nil {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		cur := view.current(c.Name)
		if cur == nil || cur.State != container.StateExited || cur.ExitCode != 0 {
			return false
		}
	}
	return true
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

// syncContainer decides for one container (app, or init when init is set): start, restart
// (after back-off), replace (an app container whose spec changed) or leave it.
func (a *Agent) syncContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, init bool, infra *container.Container,
	view *podView, sources map[string]volume.Source, svcEnv []envVar, res *syncResult) {
	cur := view.current(c.Name)
	key := string(pod.UID) + "/" + c.Name
	attempt := 0
	switch {
	case cur == nil:
	case cur.State == container.StateCreated:
		if err := a.cfg.Runtime.Start(ctx, cur.ID); err != nil {
			res.wait(c.Name, "RunContainerError", err.Error())
			res.again(backoffInitial)
		}
		return
	case cur.State == container.StateRunning:
		if init || cur.Labels[LabelHash] == containerHash(c) {
			return
		}
		a.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Container %s definition changed, will be restarted", c.Name)
		_ = a.cfg.Runtime.Stop(ctx, cur.ID, gracePeriod(pod))
		attempt = attemptOf(*cur) + 1
	default: // exited
		if !shouldRestart(restartPolicyOf(pod, init), cur.ExitCode) {
			return
		}
		if wait := a.backoff.remaining(key, cur.FinishedAt); wait > 0 {
			msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", a.backoffDelay(key), c.Name, pod.Name, pod.Namespace, pod.UID)
			res.wait(c.Name, "CrashLoopBackOff", msg)
			a.recorder.Eventf(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)
			res.again(wait)
			return
		}
		a.backoff.advance(key, cur.FinishedAt.Sub(cur.StartedAt))
		attempt = attemptOf(*cur) + 1
	}
	a.startContainer(ctx, pod, c, infra, attempt, sources, svcEnv, res)
}

func (a *Agent) backoffDelay(key string) time.Duration {
	a.backoff.mu.Lock()
	defer a.backoff.mu.Unlock()
	if e := a.backoff.m[key]; e != nil {
		return e.delay
	}
	return backoffInitial
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

// startContainer pulls the image as the policy says, resolves env and mounts, and creates and
// starts attempt n of c.
func (a *Agent) startContainer(ctx context.Context, pod *corev1.Pod, c *corev1.Container, infra *container.Container,
	attempt int, sources map[string]volume.Source, svcEnv []envVar, res *syncResult) {
	if reason, msg, wait := a.ensureImage(ctx, pod, c); reason != "" {
		res.wait(c.Name, reason, msg)
		res.again(wait)
		return
	}
	podWithIP := pod.DeepCopy()
	podWithIP.Status.PodIP, podWithIP.Status.HostIP = infra.IP, a.hostIP
	env, err := containerEnv(ctx, a, podWithIP, c, svcEnv)
	if err != nil {
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		res.wait(c.Name, "CreateContainerConfigError", err.Error())
		res.again(2 * time.Second)
		return
	}
	mounts, err := volume.Mounts(c, sources)
	if err != nil {
		res.wait(c.Name, "CreateContainerConfigError", err.Error())
		res.again(2 * time.Second)
		return
	}
	spec := a.appSpec(pod, c, infra.ID, attempt, env, mounts)
	id, err := a.cfg.Runtime.Create(ctx, spec)
	if err != nil {
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		res.wait(c.Name, "CreateContainerError", err.Error())
		res.again(backoffInitial)
		return
	}
	a.recorder.Eventf(pod, corev1.EventTypeNormal, "Created", "Created container %s", c.Name)
	if err := a.cfg.Runtime.Start(ctx, id); err != nil {
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		res.wait(c.Name, "RunContainerError", err.Error())
		res.again(backoffInitial)
		return
	}
	a.recorder.Eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
}

// ensureInfra returns the running infra container, (re)creating it when missing or dead. A
// dead infra container means the pod's network is gone: its app containers are replaced too.
func (a *Agent) ensureInfra(ctx context.Context, pod *corev1.Pod, view *podView) (*container.Container, error) {
	if running(view.infra) {
		return view.infra, nil
	}
	attempt := 0
	if view.infra != nil {
		attempt = attemptOf(*view.infra) + 1
	}
	// A dead or removed infra container took the pod's network namespace with it: app
	// containers still running in it would never reach the new one, so they are restarted.
	if len(view.all) > 0 {
		a.recorder.Eventf(pod, corev1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
		for _, c := range view.all {
			_ = a.cfg.Runtime.Stop(ctx, c.ID, gracePeriod(pod))
		}
		// Keep the app containers (restart counts live in their labels); drop old infra ones.
		for _, c := range view.all {
			if c.Labels[LabelContainer] == infraName {
				_ = a.cfg.Runtime.Remove(ctx, c.ID)
			}
		}
	}
	spec := a.infraSpec(pod)
	spec.Name = dockerName(pod, infraName, attempt)
	spec.Labels[LabelAttempt] = fmt.Sprint(attempt)
	id, err := a.createInfra(ctx, spec)
	if err != nil {
		return nil, err
	}
	c, err := a.cfg.Runtime.Inspect(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("inspect infra container: %w", err)
	}
	return &c, nil
}

// createInfra creates and starts the infra container. When that fails, the pause image or the
// pod network may have been removed behind the agent's back: both are ensured again and the
// creation is retried once.
func (a *Agent) createInfra(ctx context.Context, spec container.Spec) (string, error) {
	id, err := a.createStart(ctx, spec)
	if err == nil {
		return id, nil
	}
	a.mu.Lock()
	a.pauseOK = false
	a.mu.Unlock()
	if perr := a.ensurePause(ctx); perr != nil {
		return "", errors.Join(err, perr)
	}
	if _, nerr := a.cfg.Runtime.EnsureNetwork(ctx, a.cfg.Network, a.cfg.Subnet); nerr != nil {
		return "", errors.Join(err, nerr)
	}
	return a.createStart(ctx, spec)
}

func (a *Agent) createStart(ctx context.Context, spec container.Spec) (string, error) {
	id, err := a.cfg.Runtime.Create(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("create infra container: %w", err)
	}
	if err := a.cfg.Runtime.Start(ctx, id); err != nil {
		_ = a.cfg.Runtime.Remove(ctx, id)
		return "", fmt.Errorf("start infra container: %w", err)
	}
	return id, nil
}

// pruneAttempts keeps the newest two attempts of each app container (the current one and the
// previous, for `logs --previous`).
func (a *Agent) pruneAttempts(ctx context.Context, view *podView) {
	for _, list := range view.byName {
		for i := 2; i < len(list); i++ {
			if list[i].State != container.StateRunning {
				_ = a.cfg.Runtime.Remove(ctx, list[i].ID)
			}
		}
	}
}

// ensurePause builds the pause image once.
func (a *Agent) ensurePause(ctx context.Context) error {
	a.mu.Lock()
	ok := a.pauseOK
	a.mu.Unlock()
	if ok || a.cfg.EnsurePauseImage == nil {
		return nil
	}
	if err := a.cfg.EnsurePauseImage(ctx); err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	a.mu.Lock()
	a.pauseOK = true
	a.mu.Unlock()
	return nil
}

func gracePeriod(pod *corev1.Pod) time.Duration {
	g := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		g = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		g = *pod.DeletionGracePeriodSeconds
	}
	return time.Duration(g) * time.Second
}

// hollowVolumesOK: pods on nodes without a volume manager may still declare emptyDirs.
func hollowVolumesOK(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir == nil {
			return false
		}
	}
	return true
}

// settling reports a container that exited with 137 (SIGKILL) in the last two seconds without
// being reported OOMKilled: the engine may still be about to say it was.
func settling(view *podView, now time.Time) bool {
	for _, c := range view.all {
		if c.State == container.StateExited && c.ExitCode == 137 && !c.OOMKilled && now.Sub(c.FinishedAt) < 2*time.Second {
			return true
		}
	}
	return false
}
