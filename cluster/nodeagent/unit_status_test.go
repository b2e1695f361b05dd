package nodeagent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// ctr is a runtime container of attempt n of name in pod uid "u1".
func ctr(id, name string, attempt int, state container.State, exit int, started, finished time.Time) container.Container {
	return container.Container{ID: id, Labels: map[string]string{LabelPodUID: "u1", LabelContainer: name, LabelAttempt: itoa(attempt)},
		State: state, ExitCode: exit, StartedAt: started, FinishedAt: finished, CreatedAt: started, ImageID: "sha256:" + id}
}

func itoa(n int) string { return string(rune('0' + n)) }

func statusPod(containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u1"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: c + ":1"})
	}
	return p
}

func noWait() *syncResult { return &syncResult{waiting: map[string]waiting{}} }

func TestContainerStatusStates(t *testing.T) {
	a, _ := unitAgent(t, nil)
	t0 := unitEpoch
	t1, t2, t3 := t0.Add(time.Second), t0.Add(5*time.Second), t0.Add(7*time.Second)
	pod := statusPod("app")
	c := &pod.Spec.Containers[0]
	term := func(id string, code int32, reason string, s, f time.Time) *corev1.ContainerStateTerminated {
		return &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: metav1.NewTime(s), FinishedAt: metav1.NewTime(f), ContainerID: "docker://" + id}
	}
	f, tr := false, true
	crash := noWait()
	crash.wait("app", "CrashLoopBackOff", "back-off 20s restarting failed container")
	pull := noWait()
	pull.wait("app", "ErrImagePull", "not found")
	oom := ctr("c3", "app", 2, container.StateExited, 137, t2, t3)
	oom.OOMKilled = true

	cases := map[string]struct {
		cs   []container.Container
		res  *syncResult
		want corev1.ContainerStatus
	}{
		"not created yet": {nil, noWait(), corev1.ContainerStatus{
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}},
		"pull failed": {nil, pull, corev1.ContainerStatus{
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}}}},
		"running": {[]container.Container{ctr("c1", "app", 0, container.StateRunning, 0, t1, time.Time{})}, noWait(), corev1.ContainerStatus{
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t1)}},
			Ready: true, Started: &tr, ContainerID: "docker://c1", ImageID: "sha256:c1"}},
		"running after a crash": {[]container.Container{
			ctr("c1", "app", 0, container.StateExited, 1, t0, t1), ctr("c2", "app", 1, container.StateRunning, 0, t2, time.Time{})}, noWait(),
			corev1.ContainerStatus{RestartCount: 1, ContainerID: "docker://c2", ImageID: "sha256:c2", Ready: true, Started: &tr,
				State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t2)}},
				LastTerminationState: corev1.ContainerState{Terminated: term("c1", 1, "Error", t0, t1)}}},
		"completed": {[]container.Container{ctr("c1", "app", 0, container.StateExited, 0, t0, t1)}, noWait(), corev1.ContainerStatus{
			ContainerID: "docker://c1", ImageID: "sha256:c1", Started: &f,
			State: corev1.ContainerState{Terminated: term("c1", 0, "Completed", t0, t1)}}},
		"OOMKilled with previous": {[]container.Container{ctr("c2", "app", 1, container.StateExited, 1, t1, t2), oom}, noWait(),
			corev1.ContainerStatus{RestartCount: 2, ContainerID: "docker://c3", ImageID: "sha256:c3", Started: &f,
				State:                corev1.ContainerState{Terminated: term("c3", 137, "OOMKilled", t2, t3)},
				LastTerminationState: corev1.ContainerState{Terminated: term("c2", 1, "Error", t1, t2)}}},
		"CrashLoopBackOff": {[]container.Container{
			ctr("c1", "app", 0, container.StateExited, 1, t0, t1), ctr("c2", "app", 1, container.StateExited, 2, t2, t3)}, crash,
			corev1.ContainerStatus{RestartCount: 1, ContainerID: "docker://c2", ImageID: "sha256:c2",
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
					Message: "back-off 20s restarting failed container"}},
				LastTerminationState: corev1.ContainerState{Terminated: term("c2", 2, "Error", t2, t3)}}},
	}
	for name, tc := range cases {
		got := a.podWorker(pod.UID).with(pod, newPodView(tc.cs), tc.res).containerStatus(c)
		tc.want.Name, tc.want.Image = "app", "app:1"
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", name, d)
		}
	}
}

func TestContainerStatusReadinessProbe(t *testing.T) {
	a, _ := unitAgent(t, nil)
	pod := statusPod("app")
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
		TCPSocket: &corev1.TCPSocketAction{}}}
	cs := []container.Container{ctr("c1", "app", 0, container.StateRunning, 0, unitEpoch, time.Time{})}
	if st := a.podWorker(pod.UID).with(pod, newPodView(cs), noWait()).containerStatus(&pod.Spec.Containers[0]); st.Ready {
		t.Error("running container with a readiness probe that never ran is Ready")
	}
}

func condMap(st corev1.PodStatus) map[corev1.PodConditionType]string {
	m := map[corev1.PodConditionType]string{}
	for _, c := range st.Conditions {
		m[c.Type] = string(c.Status) + "/" + c.Reason
	}
	return m
}

func TestPodStatus(t *testing.T) {
	a, fc := unitAgent(t, nil)
	pod := statusPod("web", "side")
	infra := ctr("i1", infraName, 0, container.StateRunning, 0, unitEpoch, time.Time{})
	infra.IP = "10.88.0.9"
	web := ctr("w1", "web", 0, container.StateRunning, 0, unitEpoch, time.Time{})

	// One container still being created: Pending, not ready, pod IP from the infra container.
	w := a.podWorker(pod.UID)
	st := w.with(pod, newPodView([]container.Container{infra, web}), noWait()).status()
	if st.Phase != corev1.PodPending || st.PodIP != "10.88.0.9" || st.HostIP != "192.168.1.2" || st.StartTime == nil {
		t.Fatalf("pending status: phase %s podIP %q hostIP %q start %v", st.Phase, st.PodIP, st.HostIP, st.StartTime)
	}
	want := map[corev1.PodConditionType]string{corev1.PodInitialized: "True/", corev1.PodScheduled: "True/",
		corev1.PodReady: "False/ContainersNotReady", corev1.ContainersReady: "False/ContainersNotReady"}
	if d := cmp.Diff(want, condMap(st)); d != "" {
		t.Errorf("pending conditions: %s", d)
	}
	start := st.StartTime.Time
	w.reported = &st

	// Both running: Running and Ready; the start time stays.
	fc.Step(3 * time.Second)
	side := ctr("s1", "side", 0, container.StateRunning, 0, fc.Now(), time.Time{})
	st = w.with(pod, newPodView([]container.Container{infra, web, side}), noWait()).status()
	want[corev1.PodReady], want[corev1.ContainersReady] = "True/", "True/"
	if d := cmp.Diff(want, condMap(st)); d != "" || st.Phase != corev1.PodRunning {
		t.Errorf("running: phase %s conditions %s", st.Phase, d)
	}
	if !st.StartTime.Time.Equal(start) {
		t.Errorf("start time moved from %v to %v", start, st.StartTime.Time)
	}
	for _, c := range st.Conditions {
		if c.Type == corev1.PodScheduled && !c.LastTransitionTime.Time.Equal(unitEpoch) {
			t.Errorf("unchanged condition PodScheduled moved its transition time to %v", c.LastTransitionTime)
		}
		if c.Type == corev1.PodReady && !c.LastTransitionTime.Time.Equal(fc.Now()) {
			t.Errorf("Ready transition time = %v, want now %v", c.LastTransitionTime, fc.Now())
		}
	}

	// Restart policy Never, both exited, one failed: Failed with PodCompleted; the dead infra
	// container gives no pod IP.
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	infra.State = container.StateExited
	st = w.with(pod, newPodView([]container.Container{infra,
		ctr("w1", "web", 0, container.StateExited, 0, unitEpoch, fc.Now()),
		ctr("s1", "side", 0, container.StateExited, 3, unitEpoch, fc.Now())}), noWait()).status()
	if st.Phase != corev1.PodFailed || st.PodIP != "" || condMap(st)[corev1.PodReady] != "False/PodCompleted" {
		t.Errorf("finished pod: phase %s podIP %q ready %s", st.Phase, st.PodIP, condMap(st)[corev1.PodReady])
	}
}
