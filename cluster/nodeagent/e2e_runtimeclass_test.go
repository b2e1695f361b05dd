package nodeagent_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A pod's RuntimeClass handler is the Docker runtime its containers run with: "runc" (the
// engine's default) runs; a handler the engine does not have fails the sandbox with the
// engine's message, as a CRI runtime without the handler fails RunPodSandbox, and the pod
// waits in ContainerCreating. Before, the handler was ignored and such a pod ran on runc.
func TestE2ERuntimeClassHandler(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	ctx := context.Background()
	for name, handler := range map[string]string{e.node + "-runc": "runc", e.node + "-other": "test-handler"} {
		rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Handler: handler}
		if _, err := e.client.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	runc, other := e.node+"-runc", e.node+"-other"
	ok := testPod("on-runc", shellCmd("sh", "exec sleep 3600"))
	ok.Spec.RuntimeClassName = &runc
	e.create(ok)
	bad := testPod("on-other", shellCmd("sh", "exec sleep 3600"))
	bad.Spec.RuntimeClassName = &other
	e.create(bad)
	e.waitRunning("on-runc")
	e.waitEvent("on-other", "FailedCreatePodSandBox", "Failed to create pod sandbox", "Unknown runtime specified test-handler")
	time.Sleep(2 * time.Second)
	p := e.get("on-other")
	if p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) != 1 ||
		p.Status.ContainerStatuses[0].State.Waiting == nil || p.Status.ContainerStatuses[0].State.Waiting.Reason != "ContainerCreating" {
		t.Errorf("pod with an unknown handler: phase %s, statuses %+v; want Pending, waiting ContainerCreating", p.Status.Phase, p.Status.ContainerStatuses)
	}
	if cs := e.containers(string(p.UID)); len(cs) != 0 {
		t.Errorf("pod with an unknown handler has containers: %+v", cs)
	}
}
