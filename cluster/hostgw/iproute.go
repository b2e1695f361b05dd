package hostgw

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// RouteProto tags the host routes the router adds (`ip route … proto 77`), so it finds and
// removes its own routes, and only those.
const RouteProto = "77"

// RouteTable is the host's routing table as far as pod subnets of other nodes go.
type RouteTable interface {
	// List returns the routes the router added: destination → gateway.
	List(ctx context.Context) (map[netip.Prefix]netip.Addr, error)
	Replace(ctx context.Context, dst netip.Prefix, via netip.Addr) error
	Delete(ctx context.Context, dst netip.Prefix) error
}

// IPRoutes is the real RouteTable: the `ip` command of iproute2, on the main table of the
// network namespace the router runs in.
type IPRoutes struct{}

func (IPRoutes) run(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// List parses `ip -4 route show proto 77` (lines "10.244.1.0/24 via 172.30.0.11 dev eth0 …").
func (r IPRoutes) List(ctx context.Context) (map[netip.Prefix]netip.Addr, error) {
	out, err := r.run(ctx, "-4", "route", "show", "proto", RouteProto)
	if err != nil {
		return nil, err
	}
	return parseRoutes(out), nil
}

func parseRoutes(out string) map[netip.Prefix]netip.Addr {
	m := map[netip.Prefix]netip.Addr{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "via" {
			continue
		}
		dst, err1 := netip.ParsePrefix(f[0])
		via, err2 := netip.ParseAddr(f[2])
		if err1 == nil && err2 == nil {
			m[dst] = via
		}
	}
	return m
}

// Replace adds or changes the route to dst.
func (r IPRoutes) Replace(ctx context.Context, dst netip.Prefix, via netip.Addr) error {
	_, err := r.run(ctx, "route", "replace", dst.String(), "via", via.String(), "proto", RouteProto)
	return err
}

// Delete removes the router's route to dst.
func (r IPRoutes) Delete(ctx context.Context, dst netip.Prefix) error {
	_, err := r.run(ctx, "route", "del", dst.String(), "proto", RouteProto)
	return err
}
