package nodeagent

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/drover-ci/drover/cluster/container"
)

// Helpers of the init container tests.

// Exported to the external e2e tests (package nodeagent_test).
var (
	InitStatusOf = initStatusOf
	Condition    = condition
)

func initStatusOf(p *corev1.Pod, name string) corev1.ContainerStatus {
	for _, cs := range p.Status.InitContainerStatuses {
		if cs.Name == name {
			return cs
		}
	}
	return corev1.ContainerStatus{}
}

func condition(p *corev1.Pod, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

func waitReason(cs corev1.ContainerStatus) string {
	if w := cs.State.Waiting; w != nil {
		return w.Reason
	}
	return ""
}

// byName groups the runtime's containers of pod uid by container name.
func (h *hollowEnv) byName(uid string) map[string][]container.Container {
	out := map[string][]container.Container{}
	for _, c := range h.containers(uid) {
		out[c.Labels[LabelContainer]] = append(out[c.Labels[LabelContainer]], c)
	}
	return out
}

func describeInit(p *corev1.Pod) string {
	s := describe(p)
	for _, cs := range p.Status.InitContainerStatuses {
		s += fmt.Sprintf("; init %s restarts %d ready %v state %+v", cs.Name, cs.RestartCount, cs.Ready, cs.State)
	}
	return s
}

// TestHollowInitContainersInOrder: two init containers run one after the other, each to
// completion, before the app container starts; meanwhile the pod is Pending, not Initialized,
// with the app container waiting PodInitializing; then Running, Initialized and Ready, and
// the completed init containers (restartPolicy Always) are not run again.
func TestHollowInitContainersInOrder(t *testing.T) {
	h := startHollow(t)
	w, err := h.client.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=init"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	pod := hollowPod("init", hollowContainer("app"))
	pod.Spec.InitContainers = []corev1.Container{
		hollowContainer("first", "HOLLOW_RUN_FOR=20s"),
		hollowContainer("second", "HOLLOW_RUN_FOR=20s"),
	}
	uid := string(h.create(pod).UID)

	// What the statuses showed on the way: the first running while the second waits, then
	// the second running after the first completed; never the app before both completed.
	sawFirst, sawSecond := false, false
	timeout := time.After(30 * time.Second)
watching:
	for {
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Modified && ev.Type != watch.Added {
				continue
			}
			p := ev.Object.(*corev1.Pod)
			if len(p.Status.InitContainerStatuses) == 0 {
				continue
			}
			first, second, app := initStatusOf(p, "first"), initStatusOf(p, "second"), statusOf(p, "app")
			initialized := condition(p, corev1.PodInitialized).Status == corev1.ConditionTrue
			if !initialized {
				if p.Status.Phase != corev1.PodPending || app.State.Waiting == nil || app.State.Waiting.Reason != "PodInitializing" || isReady(p) {
					t.Errorf("while initialising: %s", describeInit(p))
				}
				if c := condition(p, corev1.PodInitialized); c.Reason != "ContainersNotInitialized" {
					t.Errorf("Initialized condition %+v", c)
				}
			}
			if first.State.Running != nil {
				sawFirst = true
				if waitReason(second) != "PodInitializing" || first.Ready {
					t.Errorf("first running: %s", describeInit(p))
				}
			}
			if second.State.Running != nil {
				sawSecond = true
				if first.State.Terminated == nil || first.State.Terminated.Reason != "Completed" || !first.Ready {
					t.Errorf("second running before first completed: %s", describeInit(p))
				}
			}
			if app.State.Running != nil && (second.State.Terminated == nil || first.State.Terminated == nil || !initialized) {
				t.Errorf("app running before the init containers completed: %s", describeInit(p))
			}
			if p.Status.Phase == corev1.PodRunning && isReady(p) {
				break watching
			}
		case <-timeout:
			p, _ := h.get("init")
			t.Fatalf("pod not Running and Ready: %s", describeInit(p))
		}
	}
	if !sawFirst || !sawSecond {
		t.Errorf("statuses never showed an init container running: first %v second %v", sawFirst, sawSecond)
	}

	// The runtime's record: one attempt each, second started after first finished, app after second.
	byName := h.byName(uid)
	for _, n := range []string{"first", "second", "app"} {
		if len(byName[n]) != 1 {
			t.Fatalf("%d containers named %s, want 1", len(byName[n]), n)
		}
	}
	first, second, app := byName["first"][0], byName["second"][0], byName["app"][0]
	if first.State != container.StateExited || second.State != container.StateExited || app.State != container.StateRunning {
		t.Errorf("states: first %s second %s app %s", first.State, second.State, app.State)
	}
	if second.StartedAt.Before(first.FinishedAt) || app.StartedAt.Before(second.FinishedAt) {
		t.Errorf("order: first %s-%s, second %s-%s, app started %s", first.StartedAt, first.FinishedAt,
			second.StartedAt, second.FinishedAt, app.StartedAt)
	}

	// Completed init containers are not restarted, even with restartPolicy Always.
	deadline := h.fc.Now().Add(30 * time.Second)
	h.poll(20*time.Second, "30 fake seconds", func() (bool, string) { return h.fc.Now().After(deadline), "" })
	p, err := h.get("init")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"first", "second"} {
		cs := initStatusOf(p, n)
		if cs.RestartCount != 0 || cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 || !cs.Ready {
			t.Errorf("init %s: %+v", n, cs)
		}
	}
	if got := len(h.byName(uid)["first"]); got != 1 {
		t.Errorf("%d containers named first after 30 s, want 1", got)
	}
	if c := condition(p, corev1.PodInitialized); c.Status != corev1.ConditionTrue {
		t.Errorf("Initialized %+v", c)
	}
}

// TestHollowInitFailureNever: an init container that fails with restartPolicy Never fails the
// pod; the app container is never created and the next init container never runs.
func TestHollowInitFailureNever(t *testing.T) {
	h := startHollow(t)
	pod := hollowPod("initfail", hollowContainer("app"))
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.InitContainers = []corev1.Container{
		hollowContainer("setup", "HOLLOW_EXIT_CODE=1", "HOLLOW_RUN_FOR=2s"),
		hollowContainer("later"),
	}
	uid := string(h.create(pod).UID)
	p := h.waitPod("initfail", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	setup := initStatusOf(p, "setup")
	if tm := setup.State.Terminated; tm == nil || tm.ExitCode != 1 || tm.Reason != "Error" || setup.RestartCount != 0 || setup.Ready {
		t.Errorf("setup status %+v, want terminated exit 1 Error", setup)
	}
	if r := waitReason(initStatusOf(p, "later")); r != "PodInitializing" {
		t.Errorf("later waits %q, want PodInitializing", r)
	}
	if r := waitReason(statusOf(p, "app")); r != "PodInitializing" {
		t.Errorf("app waits %q, want PodInitializing", r)
	}
	if c := condition(p, corev1.PodInitialized); c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotInitialized" {
		t.Errorf("Initialized %+v", c)
	}
	// The infra container is stopped; setup was not run again; later and app never existed.
	h.poll(10*time.Second, "infra stopped", func() (bool, string) {
		for _, c := range h.containers(uid) {
			if c.State == container.StateRunning {
				return false, c.Name
			}
		}
		return true, ""
	})
	byName := h.byName(uid)
	if len(byName["setup"]) != 1 || len(byName["later"]) != 0 || len(byName["app"]) != 0 {
		t.Errorf("containers: setup %d later %d app %d, want 1 0 0", len(byName["setup"]), len(byName["later"]), len(byName["app"]))
	}
}

// TestHollowInitFailureRestarts: with OnFailure and Always, a failing init container is
// restarted with back-off (CrashLoopBackOff), the pod stays Pending and the app container is
// never created.
func TestHollowInitFailureRestarts(t *testing.T) {
	h := startHollow(t)
	uids := map[string]string{}
	for _, policy := range []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyAlways} {
		name := "initcrash-" + map[corev1.RestartPolicy]string{corev1.RestartPolicyOnFailure: "onfailure", corev1.RestartPolicyAlways: "always"}[policy]
		pod := hollowPod(name, hollowContainer("app"))
		pod.Spec.RestartPolicy = policy
		pod.Spec.InitContainers = []corev1.Container{hollowContainer("setup", "HOLLOW_EXIT_CODE=2")}
		uids[name] = string(h.create(pod).UID)
	}
	for name, uid := range uids {
		sawBackOff := false
		p := h.waitPod(name, "init restarted twice", func(p *corev1.Pod) bool {
			if p.Status.Phase != corev1.PodPending {
				t.Fatalf("phase %s: %s", p.Status.Phase, describeInit(p))
			}
			cs := initStatusOf(p, "setup")
			if waitReason(cs) == "CrashLoopBackOff" {
				sawBackOff = true
			}
			return cs.RestartCount >= 2 && sawBackOff
		})
		setup := initStatusOf(p, "setup")
		if lt := setup.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 2 || lt.Reason != "Error" {
			t.Errorf("%s: setup last termination %+v", name, setup.LastTerminationState)
		}
		if r := waitReason(statusOf(p, "app")); r != "PodInitializing" {
			t.Errorf("%s: app waits %q, want PodInitializing", name, r)
		}
		if n := len(h.byName(uid)["app"]); n != 0 {
			t.Errorf("%s: %d app containers while the init container fails", name, n)
		}
	}
	h.waitEvents("initcrash-onfailure", "BackOff")
}

// TestHollowInitAdoption: an agent restarted while an init container runs adopts it (no
// second one), and the app starts when it completes; an agent restarted after initialisation
// runs no init container again.
func TestHollowInitAdoption(t *testing.T) {
	h := startHollow(t)
	pod := hollowPod("initadopt", hollowContainer("app"))
	pod.Spec.InitContainers = []corev1.Container{
		hollowContainer("quick", "HOLLOW_EXIT_CODE=0"),
		hollowContainer("slow", "HOLLOW_RUN_FOR=60s"),
	}
	uid := string(h.create(pod).UID)
	h.waitPod("initadopt", "slow running", func(p *corev1.Pod) bool { return initStatusOf(p, "slow").State.Running != nil })
	h.stopAgent()
	h.startAgent()
	p := h.waitPod("initadopt", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && isReady(p) })
	byName := h.byName(uid)
	if len(byName["quick"]) != 1 || len(byName["slow"]) != 1 || len(byName["app"]) != 1 {
		t.Fatalf("containers quick %d slow %d app %d, want one each", len(byName["quick"]), len(byName["slow"]), len(byName["app"]))
	}
	if tm := initStatusOf(p, "slow").State.Terminated; tm == nil || tm.ExitCode != 0 {
		t.Errorf("slow %+v", initStatusOf(p, "slow"))
	}

	// Once initialised, a restarted agent keeps the app and runs no init container.
	app := byName["app"][0].ID
	h.stopAgent()
	h.startAgent()
	deadline := h.fc.Now().Add(20 * time.Second)
	h.poll(20*time.Second, "20 fake seconds", func() (bool, string) { return h.fc.Now().After(deadline), "" })
	p = h.waitPod("initadopt", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && isReady(p) })
	byName = h.byName(uid)
	if len(byName["quick"]) != 1 || len(byName["slow"]) != 1 || len(byName["app"]) != 1 || byName["app"][0].ID != app {
		t.Errorf("after the second restart: quick %d slow %d app %d (%v)", len(byName["quick"]), len(byName["slow"]), len(byName["app"]), byName["app"])
	}
	if c := condition(p, corev1.PodInitialized); c.Status != corev1.ConditionTrue {
		t.Errorf("Initialized %+v", c)
	}
}
