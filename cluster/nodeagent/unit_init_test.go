package nodeagent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// TestInitStatus: the phase, the Initialized condition and the init container statuses that
// podStatus derives from the runtime's containers, for each restart policy.
func TestInitStatus(t *testing.T) {
	a, _ := unitAgent(t, nil)
	t0 := unitEpoch
	t1, t2 := t0.Add(time.Second), t0.Add(2*time.Second)
	const A, O, N = corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever
	P, R, F := corev1.PodPending, corev1.PodRunning, corev1.PodFailed
	exited := func(id, name string, code int) container.Container {
		return ctr(id, name, 0, container.StateExited, code, t1, t2)
	}
	running := func(id, name string) container.Container {
		return ctr(id, name, 0, container.StateRunning, 0, t1, time.Time{})
	}
	cases := map[string]struct {
		cs          []container.Container
		policy      corev1.RestartPolicy
		phase       corev1.PodPhase
		initialized bool
		ready       [2]bool // of i1, i2
		message     string  // of Initialized when false
	}{
		"nothing yet":              {nil, A, P, false, [2]bool{}, "containers with incomplete status: [i1 i2]"},
		"first running":            {[]container.Container{running("c1", "i1")}, A, P, false, [2]bool{}, "containers with incomplete status: [i1 i2]"},
		"first done, second runs":  {[]container.Container{exited("c1", "i1", 0), running("c2", "i2")}, N, P, false, [2]bool{true, false}, "containers with incomplete status: [i2]"},
		"first failed, Never":      {[]container.Container{exited("c1", "i1", 1)}, N, F, false, [2]bool{}, "containers with incomplete status: [i1 i2]"},
		"first failed, OnFailure":  {[]container.Container{exited("c1", "i1", 1)}, O, P, false, [2]bool{}, "containers with incomplete status: [i1 i2]"},
		"first failed, Always":     {[]container.Container{exited("c1", "i1", 1)}, A, P, false, [2]bool{}, "containers with incomplete status: [i1 i2]"},
		"both done, app not yet":   {[]container.Container{exited("c1", "i1", 0), exited("c2", "i2", 0)}, A, P, true, [2]bool{true, true}, ""},
		"both done, app running":   {[]container.Container{exited("c1", "i1", 0), exited("c2", "i2", 0), running("c3", "app")}, A, R, true, [2]bool{true, true}, ""},
		"init removed, app exists": {[]container.Container{running("c3", "app")}, O, R, true, [2]bool{}, ""},
	}
	for name, tc := range cases {
		pod := statusPod("app")
		pod.Spec.RestartPolicy = tc.policy
		pod.Spec.InitContainers = []corev1.Container{{Name: "i1", Image: "i1:1"}, {Name: "i2", Image: "i2:1"}}
		view := newPodView(tc.cs)
		if got := initDone(pod, view); got != tc.initialized {
			t.Errorf("%s: initDone = %v", name, got)
		}
		st := a.podWorker(pod.UID).with(pod, view, noWait()).status()
		if st.Phase != tc.phase {
			t.Errorf("%s: phase %s, want %s", name, st.Phase, tc.phase)
		}
		if len(st.InitContainerStatuses) != 2 {
			t.Fatalf("%s: %d init container statuses", name, len(st.InitContainerStatuses))
		}
		for i, cs := range st.InitContainerStatuses {
			if cs.Ready != tc.ready[i] {
				t.Errorf("%s: %s ready %v, want %v", name, cs.Name, cs.Ready, tc.ready[i])
			}
		}
		var cond corev1.PodCondition
		for _, c := range st.Conditions {
			if c.Type == corev1.PodInitialized {
				cond = c
			}
		}
		want := corev1.ConditionFalse
		if tc.initialized {
			want = corev1.ConditionTrue
		}
		if cond.Status != want || cond.Message != tc.message || (!tc.initialized && cond.Reason != "ContainersNotInitialized") {
			t.Errorf("%s: Initialized %+v, want %s %q", name, cond, want, tc.message)
		}
		if tc.phase == P && !tc.initialized {
			for _, c := range st.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					t.Errorf("%s: Ready while initialising", name)
				}
			}
		}
	}
}

// TestRestartPolicyOf: a completed init container is never run again, so Always is OnFailure
// for init containers; Never stays Never; app containers keep the pod's policy.
func TestRestartPolicyOf(t *testing.T) {
	for _, tc := range []struct {
		pod       corev1.RestartPolicy
		init, app corev1.RestartPolicy
	}{
		{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyAlways},
		{"", corev1.RestartPolicyOnFailure, ""},
		{corev1.RestartPolicyOnFailure, corev1.RestartPolicyOnFailure, corev1.RestartPolicyOnFailure},
		{corev1.RestartPolicyNever, corev1.RestartPolicyNever, corev1.RestartPolicyNever},
	} {
		pod := &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: tc.pod}}
		if got := restartPolicyOf(pod, true); got != tc.init {
			t.Errorf("%q init: %q, want %q", tc.pod, got, tc.init)
		}
		if got := restartPolicyOf(pod, false); got != tc.app {
			t.Errorf("%q app: %q, want %q", tc.pod, got, tc.app)
		}
		if shouldRestart(restartPolicyOf(pod, true), 0) {
			t.Errorf("%q: an init container that exited 0 would be restarted", tc.pod)
		}
	}
}
