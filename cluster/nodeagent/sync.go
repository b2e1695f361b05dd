package nodeagent

import (
	"context"
	"errors"
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

func newSyncResult() *syncResult { return &syncResult{waiting: map[string]waiting{}} }

func (r *syncResult) wait(name, reason, message string) {
	r.waiting[name] = waiting{reason, message}
}

func (r *syncResult) again(d time.Duration) {
	if d > 0 && (r.next == 0 || d < r.next) {
		r.next = d
	}
}

// ensureImages is the first step: the images the node builds itself (the pause image) exist.
func (w *podWorker) ensureImages(ctx context.Context) bool {
	if err := w.a.ensureImages(ctx); err != nil {
		w.waitAll("ContainerCreating", err.Error())
		w.res.again(5 * time.Second)
		return false
	}
	return true
}

// setupVolumes prepares the pod's volumes on the host.
func (w *podWorker) setupVolumes(ctx context.Context) bool {
	pod := w.pod
	w.volumes = nil
	if len(pod.Spec.Volumes) == 0 {
		return true
	}
	if w.a.cfg.Volumes == nil {
		if err := csiVolumeErrors(pod); err != nil {
			// No node has a CSI driver, hollow or not: a csi volume fails to mount as on
			// a kubelet the driver never registered with (the volume manager's Setup
			// says the same on nodes that have one).
			w.mountFailed(err)
			return false
		}
		if !hollowVolumesOK(pod) {
			w.event(corev1.EventTypeWarning, "FailedMount", "this node cannot mount volumes")
			return true
		}
		// A node without a volume manager (hollow) takes emptyDir and claim volumes (a
		// StatefulSet's) as placeholders its simulated containers never touch, so their
		// mounts resolve.
		w.volumes = make(map[string]volume.Source, len(pod.Spec.Volumes))
		for _, v := range pod.Spec.Volumes {
			w.volumes[v.Name] = volume.Source{HostPath: "/hollow/" + string(pod.UID) + "/volumes/" + v.Name}
		}
		return true
	}
	sources, err := w.a.cfg.Volumes.Setup(ctx, pod)
	if err != nil {
		w.mountFailed(err)
		return false
	}
	w.volumes = sources
	if hasObjectVolumes(pod) {
		// Their objects may change without the pod changing: look again (the kubelet's
		// periodic sync).
		w.res.again(w.a.cfg.SyncFrequency)
	}
	// Projected ServiceAccount tokens are refreshed by a later Setup: sync again then.
	if r, ok := w.a.cfg.Volumes.(interface{ RefreshAfter(types.UID) time.Duration }); ok {
		w.res.again(r.RefreshAfter(pod.UID))
	}
	return true
}

// mountFailed reports a failed volume setup as the kubelet does, one FailedMount event per
// volume (`MountVolume.SetUp failed for volume "data" : ...`), and leaves the pod's
// containers waiting in ContainerCreating for the next try.
func (w *podWorker) mountFailed(err error) {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var se *volume.SetupError
		if errors.As(e, &se) {
			w.event(corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed for volume %q : %v", se.Volume, se.Err)
		} else {
			w.event(corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: %v", e)
		}
	}
	w.waitAll("ContainerCreating", "")
	w.res.again(2 * time.Second)
}

// csiVolumeErrors returns the setup errors of pod's csi volumes, joined (nil without any):
// drover's nodes register no CSI driver.
func csiVolumeErrors(pod *corev1.Pod) error {
	var errs []error
	for _, v := range pod.Spec.Volumes {
		if v.CSI != nil {
			errs = append(errs, &volume.SetupError{Volume: v.Name, Err: volume.CSIDriverNotRegistered(v.CSI.Driver)})
		}
	}
	return errors.Join(errs...)
}

// loadServiceEnv takes the service variables of the containers this sync starts.
func (w *podWorker) loadServiceEnv(context.Context) bool {
	w.svcEnv = w.a.serviceEnvFor(w.pod)
	return true
}

// runInitContainers runs the pod's init containers in order, each to successful completion,
// and reports whether all have completed (so the app containers may start). It starts or
// restarts (after back-off, unless restartPolicy is Never) the first one that has not
// completed and leaves the later ones waiting. Completed attempts are found by their labels,
// so an agent restarted over a running pod does not run them again; once an app container
// exists the pod counts as initialized (its init containers may have been removed).
func (w *podWorker) runInitContainers(ctx context.Context) bool {
	pod := w.pod
	if initDone(pod, w.view) {
		return true
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if cur := w.view.current(c.Name); cur != nil && cur.State == container.StateExited && cur.ExitCode == 0 {
			continue
		}
		w.syncContainer(ctx, c, true)
		for _, later := range pod.Spec.InitContainers[i+1:] {
			w.res.wait(later.Name, "PodInitializing", "")
		}
		for _, app := range pod.Spec.Containers {
			w.res.wait(app.Name, "PodInitializing", "")
		}
		return false
	}
	return true
}

// runAppContainers starts, restarts or replaces every app container as needed.
func (w *podWorker) runAppContainers(ctx context.Context) bool {
	for i := range w.pod.Spec.Containers {
		w.syncContainer(ctx, &w.pod.Spec.Containers[i], false)
	}
	return true
}

// waitAll marks every container of the pod that has not started yet as waiting: app
// containers with reason, init containers (and app containers behind unfinished init
// containers) with PodInitializing, as the kubelet reports them.
func (w *podWorker) waitAll(reason, message string) {
	pod, view := w.pod, w.view
	initialized := initDone(pod, view)
	for _, c := range pod.Spec.InitContainers {
		if view.current(c.Name) == nil { // one that ran keeps its own state (e.g. Completed)
			w.res.wait(c.Name, "PodInitializing", "")
		}
	}
	for _, c := range pod.Spec.Containers {
		if view.current(c.Name) != nil {
			continue
		}
		if initialized {
			w.res.wait(c.Name, reason, message)
		} else {
			w.res.wait(c.Name, "PodInitializing", "")
		}
	}
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

// pruneAttempts keeps the newest two attempts of each app container (the current one and the
// previous, for `logs --previous`).
func (w *podWorker) pruneAttempts(ctx context.Context) {
	for _, list := range w.view.byName {
		for i := 2; i < len(list); i++ {
			if list[i].State != container.StateRunning {
				_ = w.a.cfg.Runtime.Remove(ctx, list[i].ID)
			}
		}
	}
}

// hollowVolumesOK: pods on nodes without a volume manager may still declare emptyDirs and
// claims (a StatefulSet's), which such a node simulates.
func hollowVolumesOK(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		// Projected volumes (the ServiceAccount token's) are placeholders too: no token is
		// requested for a simulated container.
		if v.EmptyDir == nil && v.PersistentVolumeClaim == nil && v.Projected == nil {
			return false
		}
	}
	return true
}

// Docker learns of a cgroup OOM kill from an event of its own that can arrive after the exit:
// a container that exited with 137 (SIGKILL) and is not (yet) marked OOMKilled is given a
// moment before its status is written. Only a container with a memory limit is OOM-killed
// in Docker's sense, and under load its flag has come more than 2 s late, so it is given
// oomSettleLimited; any other 137 exit oomSettle.
const (
	oomSettle        = 2 * time.Second
	oomSettleLimited = 5 * time.Second
)

// settling reports a container of pod that exited with 137 without being reported
// OOMKilled within its settle window: the engine may still be about to say it was.
func settling(view *podView, pod *corev1.Pod, now time.Time) bool {
	for _, c := range view.all {
		if c.State != container.StateExited || c.ExitCode != 137 || c.OOMKilled {
			continue
		}
		window := oomSettle
		if memoryLimited(pod, c.Labels[LabelContainer]) {
			window = oomSettleLimited
		}
		if now.Sub(c.FinishedAt) < window {
			return true
		}
	}
	return false
}

// memoryLimited reports whether pod's (init or app) container name has a memory limit.
func memoryLimited(pod *corev1.Pod, name string) bool {
	if pod == nil {
		return false
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return !list[i].Resources.Limits.Memory().IsZero()
			}
		}
	}
	return false
}

// hasObjectVolumes reports whether pod has a volume whose files come from API objects that
// change on their own: Secret, ConfigMap, projected, or downwardAPI (its resourceFieldRef
// items default to the Node's allocatable, which changes without the pod changing).
func hasObjectVolumes(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.Secret != nil || v.ConfigMap != nil || v.Projected != nil || v.DownwardAPI != nil {
			return true
		}
	}
	return false
}
