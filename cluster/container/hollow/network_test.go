package hollow

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/drover-ci/drover/cluster/container"
)

func TestNetworks(t *testing.T) {
	r, _ := newFake(t, Options{})
	ctx := context.Background()
	gw, err := r.EnsureNetwork(ctx, "drover", "10.88.0.0/24")
	if err != nil || gw != "10.88.0.1" {
		t.Fatalf("EnsureNetwork = %q, %v; want 10.88.0.1", gw, err)
	}
	if gw, err := r.EnsureNetwork(ctx, "drover", "10.88.0.7/24"); err != nil || gw != "10.88.0.1" {
		t.Errorf("EnsureNetwork again = %q, %v", gw, err)
	}
	if _, err := r.EnsureNetwork(ctx, "drover", "10.99.0.0/24"); err == nil {
		t.Errorf("EnsureNetwork with another subnet succeeded")
	}
	if _, err := r.EnsureNetwork(ctx, "bad", "not-a-cidr"); err == nil {
		t.Errorf("EnsureNetwork with a bad subnet succeeded")
	}

	subnet := netip.MustParsePrefix("10.88.0.0/24")
	seen := map[string]bool{}
	var infra []string
	for i := 0; i < 3; i++ {
		id := start(t, r, container.Spec{Name: "infra" + string(rune('a'+i)), Image: "pause", NetworkMode: "drover"})
		ip := inspect(t, r, id).IP
		a, err := netip.ParseAddr(ip)
		if err != nil || !subnet.Contains(a) || ip == gw || seen[ip] {
			t.Errorf("infra IP %q: want a fresh address of %s other than the gateway", ip, subnet)
		}
		seen[ip] = true
		infra = append(infra, id)
	}
	app := start(t, r, container.Spec{Name: "app", Image: "app", NetworkMode: "container:infraa"})
	if got, want := inspect(t, r, app).IP, inspect(t, r, infra[0]).IP; got != want {
		t.Errorf("joined container IP %q, want the infra container's %q", got, want)
	}
	fixed := start(t, r, container.Spec{Name: "fixed", Image: "pause", NetworkMode: "drover", IP: "10.88.0.200"})
	if ip := inspect(t, r, fixed).IP; ip != "10.88.0.200" {
		t.Errorf("requested IP: got %q", ip)
	}
	dup, _ := r.Create(ctx, container.Spec{Name: "dup", Image: "pause", NetworkMode: "drover", IP: "10.88.0.200"})
	if err := r.Start(ctx, dup); err == nil {
		t.Errorf("a second container got 10.88.0.200")
	}
	// Exiting frees the address; the joined container loses it too.
	if err := r.Stop(ctx, infra[0], 0); err != nil {
		t.Fatal(err)
	}
	if c := inspect(t, r, infra[0]); c.IP != "" {
		t.Errorf("exited infra container keeps IP %q", c.IP)
	}
	if ip := inspect(t, r, app).IP; ip != "" {
		t.Errorf("joined container of an exited infra reports IP %q", ip)
	}
	if err := r.Start(ctx, dup); err == nil {
		t.Errorf("10.88.0.200 still taken, yet Start succeeded")
	}
	if err := r.Remove(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, dup); err != nil {
		t.Errorf("10.88.0.200 freed by Remove, but Start failed: %v", err)
	}
}

func start(t *testing.T, r *Runtime, spec container.Spec) string {
	t.Helper()
	id, err := r.Create(context.Background(), spec)
	if err != nil {
		t.Fatalf("Create(%s): %v", spec.Name, err)
	}
	if err := r.Start(context.Background(), id); err != nil {
		t.Fatalf("Start(%s): %v", spec.Name, err)
	}
	return id
}

func TestJoinChecks(t *testing.T) {
	r, _ := newFake(t, Options{})
	ctx := context.Background()
	if _, err := r.Create(ctx, container.Spec{Name: "a", Image: "app", NetworkMode: "container:missing"}); !errors.Is(err, container.ErrNotFound) {
		t.Errorf("joining a missing container: %v, want ErrNotFound", err)
	}
	infra, _ := r.Create(ctx, container.Spec{Name: "infra", Image: "pause"})
	app, err := r.Create(ctx, container.Spec{Name: "app", Image: "app", NetworkMode: "container:" + infra})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, app); err == nil {
		t.Errorf("joining a created (not running) container succeeded")
	}
	if err := r.Start(ctx, infra); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, app); err != nil {
		t.Errorf("joining a running container: %v", err)
	}
	if ip := inspect(t, r, app).IP; ip == "" || ip != inspect(t, r, infra).IP {
		t.Errorf("default bridge: joined IP %q", ip)
	}
}

func TestNetworkExhaustedAndRemoved(t *testing.T) {
	r, _ := newFake(t, Options{})
	ctx := context.Background()
	if _, err := r.EnsureNetwork(ctx, "tiny", "10.9.9.0/30"); err != nil { // one usable address
		t.Fatal(err)
	}
	start(t, r, container.Spec{Name: "one", Image: "pause", NetworkMode: "tiny"})
	two, _ := r.Create(ctx, container.Spec{Name: "two", Image: "pause", NetworkMode: "tiny"})
	if err := r.Start(ctx, two); err == nil {
		t.Errorf("a second container started on a full /30")
	}
	r.RemoveNetwork("tiny")
	if err := r.Start(ctx, two); err == nil {
		t.Errorf("a container started on a removed network")
	}
	if gw, err := r.EnsureNetwork(ctx, "tiny", "10.9.9.0/30"); err != nil || gw != "10.9.9.1" {
		t.Errorf("recreating the network: %q, %v", gw, err)
	}
}

// TestPidModeNeedsTarget: as Docker's create, joining another container's PID namespace needs
// that container (an ephemeral container whose target is gone is not created).
func TestPidModeNeedsTarget(t *testing.T) {
	r, _ := newFake(t, Options{})
	ctx := context.Background()
	target := start(t, r, container.Spec{Name: "target", Image: "pause"})
	if _, err := r.Create(ctx, container.Spec{Name: "debug", Image: "pause", PidMode: "container:" + target}); err != nil {
		t.Errorf("create joining a running container's PID namespace: %v", err)
	}
	if _, err := r.Create(ctx, container.Spec{Name: "orphan", Image: "pause", PidMode: "container:missing"}); err == nil {
		t.Error("create joining a missing container's PID namespace succeeded")
	}
}
