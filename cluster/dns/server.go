// Package dns is the cluster DNS server every node runs: A records for services
// (svc.ns.svc.cluster.local → cluster IP, headless → ready endpoint IPs), SRV records for
// named ports, pod A records (1-2-3-4.ns.pod.cluster.local), PTR records for cluster IPs and
// endpoint addresses (reverse.go), and forwarding of every other name to the host's resolvers. Answers come from informer caches, so they follow service and
// endpoint changes as soon as the watch event arrives.
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// DefaultTTL is the TTL of cluster answers: 5 s, the default of CoreDNS's kubernetes plugin.
// (The Corefile Kubernetes deploys sets `ttl 30`, kubernetes/kubernetes#76238; drover keeps 5 s
// so that pods see a recreated service or pod address sooner.)
const DefaultTTL = 5 * time.Second

// Config configures a Server.
type Config struct {
	// Client reads services and endpoints (list and watch).
	Client kubernetes.Interface
	// Addr is where the server listens, UDP and TCP on the same port ("10.96.0.10:53").
	// Port 0 picks a free port; Addr() tells which.
	Addr string
	// Domain is the cluster domain (default "cluster.local").
	Domain string
	// Upstreams are the resolvers ("host:port") for names outside Domain.
	// Empty: the nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is read for Upstreams when none are given (default "/etc/resolv.conf").
	ResolvConf string
	// TTL of cluster answers (default DefaultTTL).
	TTL time.Duration
	// ForwardTimeout bounds one upstream exchange (default 2 s).
	ForwardTimeout time.Duration
	// Logger receives the DNS server's logs, with a "component" attribute (nil: they are dropped).
	Logger *slog.Logger
}

// Server answers cluster names from informer caches and forwards the rest.
type Server struct {
	cfg      Config
	zone     string // "cluster.local." (lower case, fully qualified)
	ttl      uint32
	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	endpoint corelisters.EndpointsLister
	svcIndex cache.Indexer // services by cluster IP (reverse.go)
	epIndex  cache.Indexer // endpoints by address (reverse.go)
	fwd      *forwarder
	log      *slog.Logger
	ready    chan struct{}
	addr     string
}

// New returns a server for cfg; Run starts it.
func New(cfg Config) *Server {
	if cfg.Domain == "" {
		cfg.Domain = "cluster.local"
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f := informers.NewSharedInformerFactory(cfg.Client, 0)
	svcs, eps := f.Core().V1().Services().Informer(), f.Core().V1().Endpoints().Informer()
	return &Server{
		cfg:      cfg,
		zone:     dns.Fqdn(strings.ToLower(cfg.Domain)),
		ttl:      uint32(cfg.TTL / time.Second),
		factory:  f,
		services: f.Core().V1().Services().Lister(),
		endpoint: f.Core().V1().Endpoints().Lister(),
		svcIndex: svcs.GetIndexer(),
		epIndex:  eps.GetIndexer(),
		log:      cfg.Logger.With("component", "dns"),
		ready:    make(chan struct{}),
	}
}

// Ready is closed once the caches are synced and the server is listening.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address the server listens on (after Ready).
func (s *Server) Addr() string { return s.addr }

// Run syncs the caches, listens on cfg.Addr (UDP and TCP) and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	// The informers stop when Run returns, also when it returns early with an error (their
	// stop channel must close before Shutdown waits for them).
	if err := addReverseIndexers(s.factory.Core().V1().Services().Informer(), s.factory.Core().V1().Endpoints().Informer()); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	s.factory.Start(ctx.Done())
	defer s.factory.Shutdown()
	defer cancel()
	for typ, ok := range s.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("dns: syncing the %v cache: %w", typ, ctx.Err())
		}
	}
	ups, err := s.upstreams()
	if err != nil {
		s.log.Warn("no upstream resolvers: names outside the cluster domain get SERVFAIL", "err", err)
	}
	pc, ln, err := listen(s.cfg.Addr)
	if err != nil {
		return err
	}
	s.addr = pc.LocalAddr().String()
	s.fwd = &forwarder{upstreams: withoutAddr(ups, s.addr), timeout: s.cfg.ForwardTimeout}
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: ln, Handler: s}
	errc := make(chan error, 2)
	started := make(chan struct{}, 2)
	udp.NotifyStartedFunc = func() { started <- struct{}{} }
	tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go func() { errc <- udp.ActivateAndServe() }()
	go func() { errc <- tcp.ActivateAndServe() }()
	for range 2 {
		select {
		case <-started:
		case err := <-errc:
			_ = udp.Shutdown()
			_ = tcp.Shutdown()
			return fmt.Errorf("dns: serving on %s: %w", s.addr, err)
		}
	}
	s.log.Info("serving cluster DNS", "addr", s.addr, "domain", s.cfg.Domain, "upstreams", s.fwd.upstreams)
	close(s.ready)
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("dns: serving on %s: %w", s.addr, err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = udp.ShutdownContext(sctx)
	_ = tcp.ShutdownContext(sctx)
	return err
}

// listen opens UDP and TCP on the same address; with port 0 the TCP port follows the UDP one.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 10 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listening on udp %s: %w", addr, err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = fmt.Errorf("dns: listening on tcp %s: %w", pc.LocalAddr(), err)
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

// upstreams are the configured resolvers, or those of resolv.conf.
func (s *Server) upstreams() ([]string, error) {
	if len(s.cfg.Upstreams) > 0 {
		return s.cfg.Upstreams, nil
	}
	cc, err := dns.ClientConfigFromFile(s.cfg.ResolvConf)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.cfg.ResolvConf, err)
	}
	var out []string
	for _, ns := range cc.Servers {
		out = append(out, net.JoinHostPort(ns, cc.Port))
	}
	if len(out) == 0 {
		return nil, errors.New(s.cfg.ResolvConf + " names no nameserver")
	}
	return out, nil
}

// withoutAddr drops self from ups, so that the server never forwards to itself.
func withoutAddr(ups []string, self string) []string {
	var out []string
	for _, u := range ups {
		if u != self {
			out = append(out, u)
		}
	}
	return out
}

// ServeDNS answers one query: cluster names locally, others through the upstreams.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	var resp *dns.Msg
	name := strings.ToLower(q.Name)
	switch {
	case dns.IsSubDomain(s.zone, name):
		resp = s.answer(req)
	case isReverse(name):
		resp = s.answerReverse(req)
	}
	if resp == nil {
		resp = s.forward(w, req)
	}
	resp.Truncate(maxSize(w, req))
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("writing a DNS answer", "name", q.Name, "err", err)
	}
}

// forward sends req to the upstreams; SERVFAIL when none answers.
func (s *Server) forward(w dns.ResponseWriter, req *dns.Msg) *dns.Msg {
	proto := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		proto = "tcp"
	}
	resp, err := s.fwd.exchange(context.Background(), req, proto)
	if err != nil {
		s.log.Debug("forwarding", "name", req.Question[0].Name, "err", err)
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeServerFailure)
		m.RecursionAvailable = true
		return m
	}
	return resp
}

// maxSize is the largest answer the client accepts: unlimited on TCP, else its EDNS0 size or 512.
func maxSize(w dns.ResponseWriter, req *dns.Msg) int {
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		return dns.MaxMsgSize
	}
	if o := req.IsEdns0(); o != nil && o.UDPSize() > dns.MinMsgSize {
		return int(o.UDPSize())
	}
	return dns.MinMsgSize
}
