package nodeagent

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/volume"
)

// podWorker is everything the agent knows of one pod, and the code that keeps the pod's
// containers as its spec says. The informer sets latest; everything else belongs to the pod's
// sync, which the queue runs for one pod at a time. Forgetting the pod is deleting its worker.
type podWorker struct {
	a      *Agent
	uid    types.UID
	latest *corev1.Pod // newest from the informer, nil once the API has no such pod (guarded by a.mu)
	// admitted: the pod passed the node's admission (or ran here already); guarded by a.mu.
	admitted bool

	// This sync's pod, its containers as the runtime listed them, and what the sync learnt
	// for the status.
	pod  *corev1.Pod
	view *podView
	res  *syncResult

	infra      *container.Container     // the running infra ("pause") container
	volumes    map[string]volume.Source // the pod's volumes as set up on the host
	svcEnv     []envVar                 // service variables of containers started now
	restarts   *backoff                 // restart back-off, by container name
	pulls      *backoff                 // image pull back-off, by container name
	pullFailed map[string]time.Time     // when a container's last pull failed
	started    time.Time                // when the agent first synced the pod (its startTime)
	reported   *corev1.PodStatus        // the status last written (or found written)
	termMsgs   map[string]string        // termination messages of exited containers, by id
	handler    *string                  // the runtime handler of the pod's RuntimeClass, once read
	// ephemeralTarget is the container whose PID namespace the ephemeral container being
	// started joins ("" : none).
	ephemeralTarget string
}

// podWorker returns the worker of pod uid, making one for a pod not seen yet (one that
// removes the containers of a pod that is gone).
func (a *Agent) podWorker(uid types.UID) *podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.podWorkerLocked(uid)
}

func (a *Agent) podWorkerLocked(uid types.UID) *podWorker {
	w := a.workers[uid]
	if w == nil {
		w = &podWorker{a: a, uid: uid, restarts: newBackoff(a.cfg.Clock), pulls: newBackoff(a.cfg.Clock),
			pullFailed: map[string]time.Time{}}
		a.workers[uid] = w
	}
	return w
}

// forget deletes w, unless its pod came back meanwhile.
func (a *Agent) forget(w *podWorker) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w.latest == nil && a.workers[w.uid] == w {
		delete(a.workers, w.uid)
	}
}

func (a *Agent) podChanged(obj interface{}) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	a.podWorkerLocked(pod.UID).latest = pod
	a.mu.Unlock()
	a.queue.Add(pod.UID)
}

func (a *Agent) podDeleted(obj interface{}) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	if w := a.workers[pod.UID]; w != nil {
		w.latest = nil
	}
	a.mu.Unlock()
	a.queue.Add(pod.UID)
}

// pod returns pod uid as the informer last saw it (nil: the node has no such pod).
func (a *Agent) pod(uid types.UID) *corev1.Pod {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := a.workers[uid]; w != nil {
		return w.latest
	}
	return nil
}

// podByName returns the node's pod namespace/name (nil: none).
func (a *Agent) podByName(namespace, name string) *corev1.Pod {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		if p := w.latest; p != nil && p.Namespace == namespace && p.Name == name {
			return p
		}
	}
	return nil
}

// sync brings the pod's containers to what its spec says and reports its status. It returns
// when to look again (0: only when something changes).
func (w *podWorker) sync(ctx context.Context) (time.Duration, error) {
	view, err := w.list(ctx)
	if err != nil {
		return 0, err
	}
	w.view = view
	pod := w.a.pod(w.uid)
	if pod == nil {
		return 0, w.cleanup(ctx)
	}
	w.pod, w.res = pod, newSyncResult()
	switch {
	case pod.DeletionTimestamp != nil:
		return 0, w.terminate(ctx)
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return 0, w.stopFinished(ctx)
	}
	if refused, err := w.admit(ctx); refused || err != nil {
		return admitRetry, err
	}
	if left, ok := w.deadlineLeft(pod); ok {
		if left <= 0 {
			return w.deadlineExceeded(ctx)
		}
		w.res.again(left)
	}
	w.syncContainers(ctx)
	return w.syncStatus(ctx)
}

// syncContainers takes the steps that run a pod, in order; a step that cannot complete says
// why the containers wait (in w.res) and ends the sequence.
func (w *podWorker) syncContainers(ctx context.Context) {
	steps := []func(context.Context) bool{
		w.ensureImages,
		w.setupVolumes,
		w.ensureInfra,
		w.loadServiceEnv,
		w.runInitContainers,
		w.runAppContainers,
		w.runEphemeralContainers,
	}
	for _, step := range steps {
		if !step(ctx) {
			break
		}
	}
	w.pruneAttempts(ctx)
}

// syncStatus lists the pod's containers again, aims the probes at the running ones and
// writes the pod's status.
func (w *podWorker) syncStatus(ctx context.Context) (time.Duration, error) {
	view, err := w.list(ctx)
	if err != nil {
		return 0, err
	}
	w.view = view
	w.a.probes.sync(w.pod, view)
	if settling(view, w.pod, w.a.cfg.Clock.Now()) {
		// Docker marks an OOM kill a moment after the exit: wait before writing a status that
		// may be final (a pod that failed stays failed).
		return time.Second, nil
	}
	w.loadTerminationMessages(ctx)
	status := w.status()
	if err := w.report(ctx, status); err != nil {
		return 0, err
	}
	if status.Phase == corev1.PodSucceeded || status.Phase == corev1.PodFailed {
		w.res.again(time.Second) // stop the infra container next round
	}
	return w.res.next, nil
}

// list returns the pod's containers on this node.
func (w *podWorker) list(ctx context.Context) (*podView, error) {
	cs, err := w.a.listContainers(ctx, map[string]string{LabelPodUID: string(w.uid)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return newPodView(cs).withHostIP(w.a.hostIP), nil
}

// event records an event on the pod.
func (w *podWorker) event(eventType, reason, format string, args ...interface{}) {
	w.a.recorder.Eventf(w.pod, eventType, reason, format, args...)
}
