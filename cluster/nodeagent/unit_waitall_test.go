package nodeagent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// waitAll (volume setup/pause/infra failure) on an initialised pod must leave the completed
// init containers Terminated (they turned into Waiting PodInitializing).
func TestWaitAllKeepsCompletedInit(t *testing.T) {
	a, _ := unitAgent(t, nil)
	t1, t2 := unitEpoch.Add(time.Second), unitEpoch.Add(2*time.Second)
	pod := statusPod("app")
	pod.Spec.InitContainers = []corev1.Container{{Name: "i1", Image: "i1:1"}}
	view := newPodView([]container.Container{
		ctr("c1", "i1", 0, container.StateExited, 0, t1, t2),
		ctr("c2", "app", 0, container.StateExited, 1, t1, t2),
	})
	w := a.podWorker(pod.UID).with(pod, view, noWait())
	w.waitAll("ContainerCreating", "")
	st := w.status()
	ics := st.InitContainerStatuses[0]
	if ics.State.Terminated == nil {
		t.Errorf("completed init container reported %+v", ics.State)
	}
}

// restartPolicy Never, init container failed, then a transient volume/pause/infra error: the
// phase stays Failed (it went back to Pending).
func TestWaitAllKeepsFailedNeverInit(t *testing.T) {
	a, _ := unitAgent(t, nil)
	t1, t2 := unitEpoch.Add(time.Second), unitEpoch.Add(2*time.Second)
	pod := statusPod("app")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.InitContainers = []corev1.Container{{Name: "i1", Image: "i1:1"}}
	view := newPodView([]container.Container{ctr("c1", "i1", 0, container.StateExited, 1, t1, t2)})
	w := a.podWorker(pod.UID).with(pod, view, noWait())
	w.waitAll("ContainerCreating", "")
	if st := w.status(); st.Phase != corev1.PodFailed {
		t.Errorf("phase %s, want Failed", st.Phase)
	}
}
