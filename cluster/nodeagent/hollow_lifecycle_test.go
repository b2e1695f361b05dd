package nodeagent

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// TestHollowGracefulDeletion: a deleted pod's container gets SIGTERM and its time to stop; then
// the containers go and the agent finishes the deletion.
func TestHollowGracefulDeletion(t *testing.T) {
	h := startHollow(t)
	pod := h.create(hollowPod("del", hollowContainer("app", "HOLLOW_STOP_AFTER=3s")))
	h.waitPod("del", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	deleted := h.fc.Now()
	if err := h.client.CoreV1().Pods("default").Delete(context.Background(), "del", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := h.get("del")
	if err != nil || p.DeletionTimestamp == nil {
		t.Fatalf("right after delete: %v %v, want the pod terminating", p, err)
	}
	h.poll(20*time.Second, "pod gone", func() (bool, string) {
		_, err := h.get("del")
		return apierrors.IsNotFound(err), "still there"
	})
	if took := h.fc.Since(deleted); took < 3*time.Second {
		t.Errorf("pod gone after %s (fake), before the container's 3s stop time", took)
	}
	if cs := h.containers(string(pod.UID)); len(cs) != 0 {
		t.Errorf("%d containers left after deletion: %+v", len(cs), cs)
	}
	h.waitEvents("del", "Killing")
}

// TestHollowAdoption: a second agent on the same runtime (the first stopped) uses the running
// containers instead of starting new ones, keeps restart counts, and removes containers no pod owns.
func TestHollowAdoption(t *testing.T) {
	h := startHollow(t)
	live := hollowContainer("server")
	live.LivenessProbe = httpGetProbe(1, 1)
	pod := h.create(hollowPod("adopt", live, hollowContainer("sidecar")))
	p := h.waitPod("adopt", "Running", func(p *corev1.Pod) bool { return isReady(p) })
	if err := h.rt.SetHTTPHealth(containerID(statusOf(p, "server")), false); err != nil {
		t.Fatal(err)
	}
	p = h.waitPod("adopt", "restarted once", func(p *corev1.Pod) bool {
		return statusOf(p, "server").RestartCount == 1 && isReady(p)
	})
	before := ids(h.containers(string(pod.UID)))
	h.stopAgent()

	// While no agent runs: an orphan container of a pod that does not exist, on this node.
	orphan, err := h.rt.Create(context.Background(), container.Spec{Name: "orphan", Image: "app:x", NetworkMode: "bridge",
		Labels: map[string]string{LabelManaged: "true", LabelNode: h.node, LabelPodUID: "no-such-pod", LabelContainer: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.rt.Start(context.Background(), orphan); err != nil {
		t.Fatal(err)
	}

	h.startAgent()
	h.poll(20*time.Second, "orphan removed", func() (bool, string) {
		_, err := h.rt.Inspect(context.Background(), orphan)
		return err != nil, "orphan still there"
	})
	// Let the new agent sync the pod a few times (relist every 1 s of the fake clock).
	start := h.fc.Now()
	h.poll(20*time.Second, "5 s of fake time", func() (bool, string) { return h.fc.Since(start) > 5*time.Second, "" })
	after := ids(h.containers(string(pod.UID)))
	if len(after) != len(before) {
		t.Fatalf("containers after adoption %v, before %v", after, before)
	}
	for id := range before {
		if !after[id] {
			t.Errorf("container %s replaced after adoption (before %v, after %v)", id, before, after)
		}
	}
	p, err = h.get("adopt")
	if err != nil {
		t.Fatal(err)
	}
	if statusOf(p, "server").RestartCount != 1 || !isReady(p) || p.Status.Phase != corev1.PodRunning {
		t.Errorf("after adoption: %s", describe(p))
	}
}

func ids(cs []container.Container) map[string]bool {
	m := map[string]bool{}
	for _, c := range cs {
		m[c.ID] = true
	}
	return m
}
