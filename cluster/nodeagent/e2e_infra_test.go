package nodeagent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/errdefs"
	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/nodeagent"
)

// A removed infra container is recreated and the app containers rejoin the new one; when
// everything is gone (containers, the pod network and the pause image), all three come back.
func TestE2EInfraRecreated(t *testing.T) {
	t.Parallel()
	rt := e2eRuntime(t)
	cli := rt.Client()
	ctx := context.Background()
	network, pause := "drover-e2e-infra", "drover/pause:e2e-infra"
	built := 0
	t.Cleanup(func() { // after startE2E's cleanup has removed the containers
		_, _ = cli.ImageRemove(ctx, pause, image.RemoveOptions{Force: true})
		_ = cli.NetworkRemove(ctx, network)
	})
	e := startE2E(t, e2eOptions{network: network, subnet: "10.90.1.0/24", pauseImage: pause,
		ensureImages: func(ctx context.Context) error {
			if _, _, err := cli.ImageInspectWithRaw(ctx, pause); err == nil {
				return nil
			}
			built++
			return cli.ImageTag(ctx, imgPause, pause)
		}})
	pod := e.create(testPod("phoenix", serverContainer("web", 8080)))
	p := e.waitRunning("phoenix")
	infra := func() (id, ip string) {
		for _, c := range e.containers(string(pod.UID)) {
			if c.Labels[nodeagent.LabelContainer] == "POD" && c.State == "running" {
				return c.ID, c.IP
			}
		}
		return "", ""
	}
	oldInfra, _ := infra()
	if oldInfra == "" {
		t.Fatal("no running infra container")
	}

	// 1. The infra container is removed under the agent's feet.
	if err := rt.Remove(ctx, oldInfra); err != nil {
		t.Fatal(err)
	}
	e.poll(30*time.Second, "pod serves again on a new infra container", func() (bool, string) {
		id, ip := infra()
		if id == "" || id == oldInfra {
			return false, "infra not recreated"
		}
		code, _, err := httpDo("GET", "http://"+ip+":8080/healthz")
		return code == 200, fmt.Sprintf("GET %s:8080/healthz: %d %v; %s", ip, code, err, describeStatus(e.get("phoenix")))
	})
	_, ip := infra()
	p = e.waitPod("phoenix", 10*time.Second, "new pod IP reported", func(p *corev1.Pod) bool { return p.Status.PodIP == ip && podReady(p) })
	e.waitEvent("phoenix", "SandboxChanged")

	// 2. Containers, network and pause image all removed.
	if _, err := cli.ImageRemove(ctx, pause, image.RemoveOptions{Force: true}); err != nil {
		t.Fatalf("remove pause image: %v", err)
	}
	// The agent may recreate the infra container between the removals: repeat until the
	// network could go.
	e.poll(10*time.Second, "remove the containers and the network", func() (bool, string) {
		for _, c := range e.containers("") {
			_ = rt.Remove(ctx, c.ID)
		}
		err := cli.NetworkRemove(ctx, network)
		return err == nil, fmt.Sprint(err)
	})
	// Each sandbox change stops the app container, and its restarts go through the crash
	// back-off: when the agent raced the removals above more than once, that takes a while.
	e.poll(60*time.Second, "pod serves again after network and pause image were removed", func() (bool, string) {
		_, ip := infra()
		if ip == "" {
			return false, describeStatus(e.get("phoenix"))
		}
		code, _, err := httpDo("GET", "http://"+ip+":8080/healthz")
		return code == 200, fmt.Sprintf("GET %s: %d %v; %s; containers %s", ip, code, err,
			describeStatus(e.get("phoenix")), summaryIDs(e.containerSet(string(pod.UID))))
	})
	if _, err := cli.NetworkInspect(ctx, network, types.NetworkInspectOptions{}); err != nil {
		t.Errorf("network %s: %v", network, err)
	}
	if _, _, err := cli.ImageInspectWithRaw(ctx, pause); errdefs.IsNotFound(err) {
		t.Errorf("pause image %s was not rebuilt", pause)
	}
	if built != 2 {
		t.Errorf("pause image built %d times, want 2 (at start and after its removal)", built)
	}
	_ = p
}
