package docker

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/docker/docker/api/types"

	"github.com/drover-ci/drover/cluster/container"
)

// TestReplaceNetwork: a drover network on another subnet is moved when no container uses
// it, and refused (naming the containers) while one does; the same subnet is kept as is.
func TestReplaceNetwork(t *testing.T) {
	rt := engine(t)
	ctx := context.Background()
	name := fmt.Sprintf("dt-replace-%d", os.Getpid())
	t.Cleanup(func() { _ = rt.Client().NetworkRemove(context.Background(), name) })
	if _, err := rt.EnsureNetwork(ctx, name, "10.251.201.0/24"); err != nil {
		t.Fatal(err)
	}
	gw, err := rt.ReplaceNetwork(ctx, name, "10.251.202.0/24")
	if err != nil || gw != "10.251.202.1" {
		t.Fatalf("ReplaceNetwork of an unused network = %q, %v; want gateway 10.251.202.1", gw, err)
	}
	nw, err := rt.Client().NetworkInspect(ctx, name, types.NetworkInspectOptions{})
	if err != nil || len(nw.IPAM.Config) != 1 || nw.IPAM.Config[0].Subnet != "10.251.202.0/24" {
		t.Fatalf("network after ReplaceNetwork: %+v, %v", nw.IPAM.Config, err)
	}
	if gw, err := rt.ReplaceNetwork(ctx, name, "10.251.202.0/24"); err != nil || gw != "10.251.202.1" {
		t.Fatalf("ReplaceNetwork with the same subnet = %q, %v", gw, err)
	}
	id := runServer(t, rt, container.Spec{NetworkMode: name})
	_, err = rt.ReplaceNetwork(ctx, name, "10.251.203.0/24")
	if err == nil || !strings.Contains(err.Error(), "containers still use it") {
		t.Fatalf("ReplaceNetwork with a container on the network: %v, want a refusal", err)
	}
	if nw, _ := rt.Client().NetworkInspect(ctx, name, types.NetworkInspectOptions{}); nw.IPAM.Config[0].Subnet != "10.251.202.0/24" {
		t.Errorf("refused ReplaceNetwork changed the subnet to %s", nw.IPAM.Config[0].Subnet)
	}
	_ = rt.Remove(ctx, id)
}
