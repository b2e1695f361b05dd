package nodeagent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/nodeagent"
)

// A fork bomb in a pod runs into the default pids limit (nodeagent.DefaultPidsLimit) and the
// node agent stays responsive: its Lease is renewed and its node is Ready while the bomb holds
// every process it may, another pod starts, and deleting the bomb's pod removes its containers.
func TestE2EForkBombIsContained(t *testing.T) {
	e := startE2E(t, e2eOptions{})
	bomb := corev1.Container{Name: "bomb", Image: imgShell, ImagePullPolicy: corev1.PullNever,
		// Each process forks two copies of itself and waits for them: the processes stay.
		Command: []string{"/bin/sh", "-c", "b() { b & b & wait; }; b 2>/dev/null"}}
	// A CPU limit keeps the test polite to the host; the pids limit is what bounds the bomb.
	bomb.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	created := e.create(testPod("forkbomb", bomb))
	p := e.waitPod("forkbomb", 30*time.Second, "bomb running", func(p *corev1.Pod) bool { return status(p, "bomb").State.Running != nil })
	id := strings.TrimPrefix(status(p, "bomb").ContainerID, "docker://")

	// The bomb reaches the limit (and no further).
	var pids, limit uint64
	e.poll(120*time.Second, "the bomb reaches the pids limit", func() (bool, string) {
		r, err := e.dockerCLI().ContainerStatsOneShot(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		defer r.Body.Close()
		var s struct {
			PidsStats struct{ Current, Limit uint64 } `json:"pids_stats"`
		}
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
			return false, err.Error()
		}
		pids, limit = s.PidsStats.Current, s.PidsStats.Limit
		return limit == nodeagent.DefaultPidsLimit && pids >= limit-8, fmt.Sprintf("%d of %d processes", pids, limit)
	})
	if pids > limit {
		t.Errorf("%d processes over the limit %d", pids, limit)
	}

	// The agent still renews its Lease, keeps its node Ready and starts a pod.
	lease := func() time.Time {
		l, err := e.client.CoordinationV1().Leases("kube-node-lease").Get(context.Background(), e.node, metav1.GetOptions{})
		if err != nil || l.Spec.RenewTime == nil {
			return time.Time{}
		}
		return l.Spec.RenewTime.Time
	}
	before := lease()
	e.poll(60*time.Second, "the node's Lease renewed during the bomb", func() (bool, string) {
		now := lease()
		return now.After(before), fmt.Sprintf("renewTime %s, before %s", now, before)
	})
	e.waitNodeReady()
	e.create(testPod("other", exitContainer("main", map[string]string{"SLEEP": "inf"})))
	e.waitRunning("other")

	// Deleting the bomb's pod removes its containers.
	grace := int64(0)
	if err := e.client.CoreV1().Pods("default").Delete(context.Background(), "forkbomb", metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	e.poll(60*time.Second, "the bomb's containers removed", func() (bool, string) {
		cs := e.containers(string(created.UID))
		return len(cs) == 0, fmt.Sprintf("%d containers", len(cs))
	})
}
