package nodeagent_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/nodeagent"
)

// The init status helpers are the hollow tests' (hollow_init_test.go, package nodeagent).
var (
	initStatus   = nodeagent.InitStatusOf
	podCondition = nodeagent.Condition
)

// engineNames counts the engine's containers of pod uid by container name.
func (e *e2e) engineNames(uid string) map[string]int {
	out := map[string]int{}
	for _, c := range e.containers(uid) {
		out[c.Labels[nodeagent.LabelContainer]]++
	}
	return out
}

// An init container shares the pod's network namespace (the test reaches it at the pod IP)
// and its emptyDir: what it writes there before completing, the app container then serves.
// The app container is not created while the init container runs; `kubectl get pods` shows
// Init:0/1 meanwhile.
func TestE2EInitContainerWritesEmptyDir(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	mount := []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}}
	setup, web := serverContainer("setup", 8080), serverContainer("web", 8081)
	setup.VolumeMounts, web.VolumeMounts = mount, mount
	pod := testPod("initdir", web)
	pod.Spec.InitContainers = []corev1.Container{setup}
	pod.Spec.Volumes = []corev1.Volume{{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	uid := string(e.create(pod).UID)

	p := e.waitPod("initdir", 30*time.Second, "init container running", func(p *corev1.Pod) bool {
		return initStatus(p, "setup").State.Running != nil && p.Status.PodIP != ""
	})
	if p.Status.Phase != corev1.PodPending || waitingReason(p, "web") != "PodInitializing" ||
		podCondition(p, corev1.PodInitialized).Status != corev1.ConditionFalse {
		t.Errorf("while initialising: %s", describeStatus(p))
	}
	out, err := e.kubectl("get", "pod", "initdir", "--no-headers")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(out); len(f) < 3 || f[2] != "Init:0/1" {
		t.Errorf("kubectl get pod while initialising: %q, want STATUS Init:0/1", out)
	}
	base := "http://" + p.Status.PodIP
	e.poll(15*time.Second, "init container answers at the pod IP", func() (bool, string) {
		code, body, err := httpDo("POST", base+":8080/write?path=/shared/note&data=from-init")
		return code == 200, fmt.Sprint(code, body, err)
	})
	if n := e.engineNames(uid)["web"]; n != 0 {
		t.Errorf("%d app containers while the init container runs", n)
	}
	httpDo("POST", base+":8080/exit?code=0")

	p = e.waitRunning("initdir")
	if st := initStatus(p, "setup"); st.State.Terminated == nil || st.State.Terminated.ExitCode != 0 ||
		st.State.Terminated.Reason != "Completed" || !st.Ready || st.RestartCount != 0 {
		t.Errorf("setup status after initialisation: %+v", st)
	}
	if c := podCondition(p, corev1.PodInitialized); c.Status != corev1.ConditionTrue {
		t.Errorf("Initialized %+v", c)
	}
	if got := mustHTTP(t, "GET", "http://"+p.Status.PodIP+":8081/file?path=/shared/note"); got != "from-init" {
		t.Errorf("app read %q from the emptyDir, want from-init", got)
	}
	// The completed init container is not run again (restartPolicy Always).
	time.Sleep(2 * time.Second)
	if n := e.engineNames(uid); n["setup"] != 1 || n["web"] != 1 {
		t.Errorf("containers %v, want one setup and one web", n)
	}
	out, err = e.kubectl("get", "pod", "initdir", "--no-headers")
	if f := strings.Fields(out); err != nil || len(f) < 3 || f[2] != "Running" || f[1] != "1/1" {
		t.Errorf("kubectl get pod after initialisation: %q %v", out, err)
	}
}

// An init container that exits 1 with restartPolicy Never fails the pod; the app container
// is never created and the init container is not run again.
func TestE2EInitContainerFailsNever(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	pod := testPod("initfail", serverContainer("web", 8080))
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.InitContainers = []corev1.Container{exitContainer("setup", map[string]string{"EXIT_CODE": "1"}, "setting up")}
	uid := string(e.create(pod).UID)
	p := e.waitPod("initfail", 30*time.Second, "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	st := initStatus(p, "setup")
	if tm := st.State.Terminated; tm == nil || tm.ExitCode != 1 || tm.Reason != "Error" || st.RestartCount != 0 {
		t.Errorf("setup status %+v, want terminated exit 1 Error", st)
	}
	if r := waitingReason(p, "web"); r != "PodInitializing" {
		t.Errorf("web waits %q, want PodInitializing", r)
	}
	if c := podCondition(p, corev1.PodInitialized); c.Status != corev1.ConditionFalse {
		t.Errorf("Initialized %+v", c)
	}
	out, err := e.kubectl("get", "pod", "initfail", "--no-headers")
	if f := strings.Fields(out); err != nil || len(f) < 3 || f[2] != "Init:Error" {
		t.Errorf("kubectl get pod: %q %v, want STATUS Init:Error", out, err)
	}
	// The infra container is stopped; the failed init container stays (for its logs).
	e.poll(20*time.Second, "infra container stopped", func() (bool, string) {
		for _, c := range e.containers(uid) {
			if c.State == "running" {
				return false, c.Name
			}
		}
		return true, ""
	})
	if n := e.engineNames(uid); n["setup"] != 1 || n["web"] != 0 {
		t.Errorf("containers %v, want one setup and no web", n)
	}
}
