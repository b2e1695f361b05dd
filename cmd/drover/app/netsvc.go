package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/container/docker"
	"github.com/drover-ci/drover/cluster/dns"
	"github.com/drover-ci/drover/cluster/hostgw"
	"github.com/drover-ci/drover/cluster/proxy"
)

// defaultClusterDNS is the cluster DNS address pods get (Kubernetes' usual kube-dns address).
const defaultClusterDNS = "10.96.0.10"

// netOptions are the flags of the node's service discovery: the cluster DNS server and the
// service proxy. Both serve addresses they add to lo.
type netOptions struct {
	dns             bool
	proxy           bool
	nodePortAddress string
	flags           *pflag.FlagSet
}

func (o *netOptions) addFlags(f *pflag.FlagSet) {
	o.flags = f
	f.BoolVar(&o.dns, "dns", true, "serve cluster DNS on --cluster-dns port 53 (the address is added to lo; needs root)")
	f.BoolVar(&o.proxy, "proxy", true, "proxy service cluster IPs (added to lo; needs root) and NodePorts to their endpoints")
	f.StringVar(&o.nodePortAddress, "nodeport-address", "0.0.0.0", "address NodePort listeners bind (0.0.0.0: all)")
}

// netServices checks that this node can serve cluster DNS and service IPs and returns what
// runs them (nil when both are off, or on hollow nodes, whose pods have no real addresses).
// Call it before agents: with --dns=false and no --cluster-dns given, pods keep Docker's resolver.
// Both log to log.
func (o *nodeOptions) netServices(cfg *rest.Config, log *slog.Logger) (func(context.Context) error, error) {
	n := o.net
	if !n.dns && n.flags != nil && !n.flags.Changed("cluster-dns") {
		o.clusterDNS = ""
	}
	if o.runtime == "hollow" || (!n.dns && !n.proxy) {
		return nil, nil
	}
	if err := n.validate(o.clusterDNS); err != nil {
		return nil, err
	}
	addrs := proxy.NewLoopback("lo")
	if err := addrs.Check(); err != nil {
		return nil, fmt.Errorf("%w: run as root, or turn off %s", err, n.offFlags())
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "drover-node-netsvc"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("API client: %w", err)
	}
	clusterDNS := o.clusterDNS
	return func(ctx context.Context) error { return n.run(ctx, client, addrs, clusterDNS, log) }, nil
}

// routes returns what keeps this host's routes to the other nodes' pod subnets, with
// --host-gw (nil without it, and on hollow nodes), logging to log.
func (o *nodeOptions) routes(cfg *rest.Config, log *slog.Logger) (func(context.Context) error, error) {
	if !o.hostGW || o.runtime == "hollow" {
		return nil, nil
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "drover-node-hostgw"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("API client: %w", err)
	}
	r, err := hostgw.New(hostgw.Config{NodeName: o.name, Client: client, Logger: log})
	if err != nil {
		return nil, err
	}
	return r.Run, nil
}

func (n netOptions) validate(clusterDNS string) error {
	if n.dns {
		if clusterDNS == "" {
			return errors.New("--dns needs --cluster-dns (the address to serve on), or turn cluster DNS off with --dns=false")
		}
		if _, err := netip.ParseAddr(clusterDNS); err != nil {
			return fmt.Errorf("--cluster-dns %q: %w", clusterDNS, err)
		}
	}
	if a := n.nodePortAddress; n.proxy && a != "" {
		if _, err := netip.ParseAddr(a); err != nil {
			return fmt.Errorf("--nodeport-address %q: %w", a, err)
		}
	}
	return nil
}

// offFlags names the flags that turn off what needs addresses on lo.
func (n netOptions) offFlags() string {
	var out []string
	if n.proxy {
		out = append(out, "the service proxy with --proxy=false")
	}
	if n.dns {
		out = append(out, "cluster DNS with --dns=false")
	}
	return strings.Join(out, " and ")
}

// run serves cluster DNS on clusterDNS:53 and proxies services until ctx ends or one fails.
// severalHint closes the errors a second drover on one host gets for taking the first one's
// defaults.
const severalHint = "; several drovers on one host each need their own --listen, --network and --subnet, " +
	"--service-cidr and --cluster-dns, and --node-port-range (docs/operations.md, \"Several drovers on one host\")"

// hintSeveral adds to err the flags to set when it is a second drover's clash with the first
// one's defaults: an address in use, or the first one's Docker network.
func hintSeveral(err error, flag string) error {
	var foreign *docker.ForeignNetworkError
	switch {
	case errors.As(err, &foreign):
		return fmt.Errorf("%w: give this drover a network of its own (--network NAME --subnet CIDR)%s", err, severalHint)
	case errors.Is(err, syscall.EADDRINUSE) && flag != "":
		return fmt.Errorf("%w: another process (another drover?) has it; give this one its own %s%s", err, flag, severalHint)
	}
	return err
}

func (n netOptions) run(ctx context.Context, client kubernetes.Interface, addrs proxy.AddrManager, clusterDNS string, log *slog.Logger) error {
	g, ctx := errgroup.WithContext(ctx)
	if n.dns {
		if err := addrs.Add(ctx, clusterDNS); err != nil {
			return fmt.Errorf("adding --cluster-dns %s to lo (turn cluster DNS off with --dns=false): %w", clusterDNS, err)
		}
		defer func() {
			if err := addrs.Remove(context.Background(), clusterDNS); err != nil {
				log.Warn("removing the cluster DNS address", "ip", clusterDNS, "err", err)
			}
		}()
		s := dns.New(dns.Config{Client: client, Addr: net.JoinHostPort(clusterDNS, "53"), Logger: log})
		g.Go(func() error {
			err := s.Run(ctx)
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("%w: another drover on this host (or a DNS server) serves --cluster-dns %s; give this one "+
					"its own service range and DNS address (--service-cidr, --cluster-dns inside it)%s", err, clusterDNS, severalHint)
			}
			return err
		})
	}
	if n.proxy {
		p := proxy.New(proxy.Config{Client: client, Addrs: addrs, NodePortAddress: n.nodePortAddress, Logger: log})
		g.Go(func() error { return p.Run(ctx) })
	}
	return g.Wait()
}
