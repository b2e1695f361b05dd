package app

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/drover-ci/drover/cluster/controller/serviceip"
)

// advertiseAddress is the IP pods reach the API server at (the kubernetes Service's
// Endpoints): --advertise-address, else the listen address when it is a specific routable one,
// else (listening on every address) the IPv4 address of the default route's interface, as
// kube-apiserver chooses it. Listening on loopback only, pods cannot reach it: none.
func advertiseAddress(flag, listen string) (netip.Addr, error) {
	if flag != "" {
		ip, err := netip.ParseAddr(flag)
		if err != nil || !ip.Is4() || ip.IsLoopback() || ip.IsUnspecified() {
			return netip.Addr{}, fmt.Errorf("--advertise-address %q: want an IPv4 address pods can reach", flag)
		}
		return ip, nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return netip.Addr{}, nil
	}
	if host != "" {
		ip, err := netip.ParseAddr(host)
		if err != nil || ip.IsLoopback() {
			return netip.Addr{}, nil
		}
		if !ip.IsUnspecified() {
			return ip, nil
		}
	}
	return defaultRouteIP(), nil
}

// defaultRouteIP is the first IPv4 address of the interface of the default route (from
// /proc/net/route), or nothing.
func defaultRouteIP() netip.Addr {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return netip.Addr{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[1] != "00000000" {
			continue
		}
		ifc, err := net.InterfaceByName(fields[0])
		if err != nil {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
				return p.Addr()
			}
		}
	}
	return netip.Addr{}
}

// kubernetesSANs are the serving certificate's names pods use: the kubernetes Service's
// cluster IP (the first of --service-cidr) and the advertise address.
func kubernetesSANs(serviceCIDR string, advertise netip.Addr) []string {
	var out []string
	if r, err := serviceip.NewIPRange(serviceCIDR); err == nil {
		out = append(out, r.Reserved().String())
	}
	if advertise.IsValid() {
		out = append(out, advertise.String())
	}
	return out
}

// advertisePort is the port of the API server's URL.
func advertisePort(apiURL string) uint16 {
	u, err := url.Parse(apiURL)
	if err != nil {
		return 0
	}
	var port uint16
	_, _ = fmt.Sscan(u.Port(), &port)
	return port
}
