// Package apiserver serves the Kubernetes v1 REST API over a store.Store: discovery, CRUD,
// list and watch with selectors, patch, subresources, server-side tables, graceful and
// cascading deletion. It is the only component that touches the store.
package apiserver

import (
	"bufio"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"github.com/drover-ci/drover/cluster/satoken"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover-ci/drover/cluster/apiserver/discovery"
	"github.com/drover-ci/drover/cluster/apiserver/watchcache"
	"github.com/drover-ci/drover/cluster/rbac"
	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/resourcemetrics"
	"github.com/drover-ci/drover/cluster/store"
)

// Config configures a Server.
type Config struct {
	// Store holds all objects.
	Store store.Store
	// Tokens maps accepted bearer tokens to user names; empty means no authentication.
	Tokens map[string]string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// NodeTLS is the client TLS configuration for node agents (the API server's client
	// certificate, drover's CA as roots): pods/log, exec, attach and portforward are proxied
	// to a pod's node agent with it, and resource metrics scraped. Nil: those answer 503.
	NodeTLS *tls.Config
	// Metrics is served at /metrics in the Prometheus text format (nil:
	// prometheus.DefaultGatherer), to authenticated clients unless AnonymousMetrics.
	Metrics          prometheus.Gatherer
	AnonymousMetrics bool
	// Profiling serves Go's pprof profiles at /debug/pprof/ (kube-apiserver's --profiling)
	// to authenticated callers allowed the non-resource URL (system:masters); off: 404.
	Profiling bool
	// Resources are the resources served (nil: registry.Resources(), all of drover's). It
	// must include namespaces.
	Resources *registry.Set
	// Logger receives the server's logs (nil: they are dropped).
	Logger *slog.Logger
	// MetricResolution is how often the resource metrics collector scrapes the node agents
	// for metrics.k8s.io (0: resourcemetrics.DefaultResolution, 15 s; negative: off).
	MetricResolution time.Duration
	// Limits caps the requests in flight (zero value: Kubernetes' defaults).
	Limits Limits
	// ServiceCIDR is where Services' cluster IPs come from (default 10.96.0.0/16), NodePortMin
	// and NodePortMax bound their node ports (default 30000-32767): the server allocates them
	// when a Service is created or updated.
	ServiceCIDR              string
	NodePortMin, NodePortMax int
	// ServiceAccountKey signs and verifies ServiceAccount tokens (nil: TokenRequest answers
	// 503 and only the static tokens authenticate).
	ServiceAccountKey crypto.Signer
	// APIAudiences are the audiences a token must name to authenticate to this server
	// (default the issuer, https://kubernetes.default.svc.cluster.local, as kube-apiserver).
	APIAudiences []string
	// PodSecurityDefault is the Pod Security Standard (privileged, baseline or restricted) a
	// namespace without pod-security.kubernetes.io labels is held to for enforce, warn and
	// audit ("": privileged, as Kubernetes).
	PodSecurityDefault string
	// PodSecurityExemptions are the users, namespaces and runtime classes Pod Security
	// Admission never evaluates.
	PodSecurityExemptions PodSecurityExemptions
	// RootCA is the CA bundle (PEM) of the API server's certificate, written into legacy
	// ServiceAccount token Secrets as ca.crt.
	RootCA []byte
	// WatchCache configures the watch cache that serves lists and watches (run by Start).
	WatchCache WatchCache
	// AuthorizationMode is how requests are authorized after authentication:
	// AuthorizationModeRBAC (the default, "") or AuthorizationModeAlwaysAllow. Members of
	// system:masters are always allowed.
	AuthorizationMode string
	// Authorizers are tried in order after the system:masters check and before the mode's
	// authorizer (e.g. the Node authorizer); the first to allow or deny decides, as
	// kube-apiserver's --authorization-mode=Node,RBAC chain.
	Authorizers []authorizer.Authorizer
	// ClientCA verifies client certificates (nil: none authenticate): a certificate chaining
	// to it for client auth authenticates as its subject's common name, in its organizations
	// (Kubernetes' --client-ca-file). The TLS listener must request client certificates.
	ClientCA *x509.CertPool
	// ClientCAPEM is ClientCA's PEM, published (as client-ca-file) in the ConfigMap
	// kube-system/extension-apiserver-authentication for extension API servers.
	ClientCAPEM []byte
	// FrontProxy is the API server's credential towards extension API servers (the
	// aggregation layer's proxy): its client certificate, and the CA published as
	// requestheader-client-ca-file. Nil: requests are proxied without a client certificate,
	// which extension servers refuse.
	FrontProxy *FrontProxy
	// EventTTL is how long an Event lives after its last write (0: one hour, kube-apiserver's
	// --event-ttl default; negative: forever). Stores without TTL support keep Events forever.
	EventTTL time.Duration
}

// Server is the API server. Create it with New, serve Handler, and run Start for its
// background loops (garbage collection and namespace cleanup).
type Server struct {
	store    store.Store
	eventTTL time.Duration // of Events; 0: none
	tokens   map[string]string
	now      func() time.Time
	// nodeTransport reaches node agents (nil without Config.NodeTLS).
	nodeTransport *http.Transport
	// proxyTransport reaches pods for pods/proxy and services/proxy.
	proxyTransport *http.Transport
	metrics        prometheus.Gatherer
	anonMetric     bool
	profiling      bool
	resources      *registry.Set
	namespaces     *registry.Resource
	// discovery serves discovery and OpenAPI; rebuilt when the custom resources or the
	// remote APIServices change. discoveryKey is what it was built from.
	discovery    atomic.Pointer[discovery.Handler]
	discoveryKey atomic.Pointer[string]
	// agg is the aggregation layer: APIServices, their availability, the proxy.
	agg         *aggregator
	frontProxy  *FrontProxy
	clientCAPEM []byte
	// crds follows the CustomResourceDefinitions: which custom resources are served.
	crds *crdController
	// fields keeps metadata.managedFields and merges server-side applies.
	fields *fieldManagers
	// webhooks calls the admission webhooks (nil: a server without a loopback client).
	webhooks atomic.Pointer[webhookAdmission]
	// priorityClasses is what the Priority admission of pods reads PriorityClasses from once
	// synced (the loopback informers; nil: the store).
	priorityClasses atomic.Pointer[priorityClassCache]
	log             *slog.Logger
	gc              *collector
	rmetrics        *resourcemetrics.Collector // nil: off
	inflight        *inflight
	space           *spaceStore
	svcRanges       serviceRanges
	signer          *satoken.Signer // nil: no ServiceAccount tokens
	audiences       []string
	psa             *podSecurity
	quota           *quotaAdmission
	rootCA          []byte
	// authz authorizes every request (and impersonation, and the access reviews); rules
	// lists what a user may do (SelfSubjectRulesReview).
	authz       authorizer.Authorizer
	rules       authorizer.RuleResolver
	requestInfo *genericrequest.RequestInfoFactory
	// rbacIndex holds the RBAC objects, kept current from a store watch: the RBAC
	// authorizer, escalation checks and SelfSubjectRulesReview read it.
	rbacIndex *rbac.Index
	certAuth  *certAuthenticator // nil: no client certificates
	cache     *watchcache.Cacher // nil: lists and watches read the store
	cachedRes map[*registry.Resource]bool
	// consistentFromStore: WatchCache.ConsistentReadsFromStore.
	consistentFromStore bool
}

// New builds a Server over cfg.Store.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("apiserver: Config.Store is required")
	}
	resources := cfg.Resources
	if resources == nil {
		resources = registry.Resources()
	}
	ns, ok := resources.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	if !ok {
		return nil, fmt.Errorf("apiserver: Config.Resources has no namespaces resource")
	}
	s := &Server{store: cfg.Store, tokens: cfg.Tokens, now: cfg.Now,
		resources: resources, namespaces: ns, log: cfg.Logger, anonMetric: cfg.AnonymousMetrics, profiling: cfg.Profiling}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.proxyTransport = newProxyTransport()
	s.fields = newFieldManagers(s)
	s.metrics = cfg.Metrics
	if s.metrics == nil {
		s.metrics = prometheus.DefaultGatherer
	}
	if cfg.NodeTLS != nil {
		s.nodeTransport = &http.Transport{TLSClientConfig: cfg.NodeTLS, ResponseHeaderTimeout: 30 * time.Second,
			DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext, IdleConnTimeout: 90 * time.Second}
	}
	ranges, err := newServiceRanges(cfg.ServiceCIDR, cfg.NodePortMin, cfg.NodePortMax)
	if err != nil {
		return nil, err
	}
	s.svcRanges = ranges
	psa, err := s.newPodSecurity(cfg.PodSecurityDefault, cfg.PodSecurityExemptions)
	if err != nil {
		return nil, err
	}
	s.psa = psa
	s.quota = newQuotaAdmission(s.now)
	s.rootCA = cfg.RootCA
	if cfg.ClientCA != nil {
		s.certAuth = newCertAuthenticator(cfg.ClientCA)
	}
	s.audiences = cfg.APIAudiences
	if len(s.audiences) == 0 {
		s.audiences = []string{satoken.Issuer}
	}
	if cfg.ServiceAccountKey != nil {
		signer, err := satoken.NewSigner(cfg.ServiceAccountKey)
		if err != nil {
			return nil, err
		}
		s.signer = signer
	}
	s.requestInfo = newRequestInfoFactory()
	s.rbacIndex = rbac.NewIndex()
	s.authz, s.rules, err = buildAuthorizer(cfg.Authorizers, cfg.AuthorizationMode, rbac.NewAuthorizer(s.rbacIndex))
	if err != nil {
		return nil, err
	}
	s.frontProxy, s.clientCAPEM = cfg.FrontProxy, cfg.ClientCAPEM
	s.agg = newAggregator(s)
	s.rebuildDiscovery()
	s.crds = newCRDController(s)
	s.gc = newCollector(s)
	s.inflight = newInflight(cfg.Limits)
	s.space = &spaceStore{Store: cfg.Store}
	s.eventTTL = eventTTL(cfg.EventTTL)
	s.store = s.space
	s.metrics = prometheus.Gatherers{s.metrics, storeMetrics(cfg.Store, s.space)}
	if cfg.MetricResolution >= 0 {
		s.rmetrics = s.newResourceMetrics(cfg.MetricResolution)
	}
	if !cfg.WatchCache.Disabled {
		s.cache = s.newCacher(cfg.WatchCache)
		s.consistentFromStore = cfg.WatchCache.ConsistentReadsFromStore
	}
	return s, nil
}

// Start creates the default and kube-system namespaces if missing, reconciles the bootstrap RBAC
// policy, creates the missing system PriorityClasses and runs the background loops until ctx
// ends. It returns once those objects exist.
func (s *Server) Start(ctx context.Context) error {
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := s.create(ctx, s.namespaces, "", ns, false); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	rev, err := s.loadRBAC(ctx)
	if err != nil {
		return err
	}
	go s.followRBAC(ctx, rev)
	// The custom resources are known before Start returns, so that a restarted server
	// serves them from its first request.
	crdRev, err := s.crds.load(ctx)
	if err != nil {
		return err
	}
	go s.crds.run(ctx, crdRev)
	if err := s.reconcileRBAC(ctx); err != nil {
		return err
	}
	if err := s.ensureSystemPriorityClasses(ctx); err != nil {
		return err
	}
	if err := s.publishExtensionAuth(ctx); err != nil {
		return fmt.Errorf("publish %s/%s: %w", metav1.NamespaceSystem, extensionAuthConfigMap, err)
	}
	aggRev, err := s.agg.load(ctx)
	if err != nil {
		return err
	}
	go s.agg.run(ctx, aggRev)
	go s.gc.run(ctx)
	if s.cache != nil {
		go s.cache.Run(ctx)
	}
	if s.rmetrics != nil {
		go s.rmetrics.Run(ctx)
	}
	return nil
}

// Handler returns the HTTP handler: health endpoints and /version without authentication
// (kube-apiserver's system:public-info-viewer gives them to everyone), everything else —
// /metrics too unless Config.AnonymousMetrics — behind authentication, impersonation and
// authorization.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.health)
	mux.HandleFunc("/livez", s.health)
	mux.HandleFunc("/readyz", s.ready)
	mux.Handle("/version", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.discovery.Load().ServeHTTP(w, r) }))
	metrics := promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{})
	if s.anonMetric {
		mux.Handle("/metrics", metrics)
	} else {
		mux.Handle("/metrics", s.secured(metrics))
	}
	if s.profiling {
		mux.Handle("/debug/pprof/", s.secured(profilingHandler()))
	}
	mux.Handle("/", s.secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.agg.serve(w, r) {
			return // an extension API server's group version
		}
		if discovery.IsPath(r.URL.Path) {
			s.discovery.Load().ServeHTTP(w, r)
			return
		}
		s.serveResource(w, r)
	})))
	return s.logRequests(s.inflight.limit(bodyDeadline(mux)))
}

// profilingHandler serves net/http/pprof's index, named profiles, CPU profile, trace, symbols
// and command line under /debug/pprof/.
func profilingHandler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index) // heap, goroutine, mutex, block, allocs, ...
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m
}

// bodyTimeout bounds reading a request's body (the http.Server's ReadTimeout would also cut
// watches and streams short: over HTTP/1 its deadline stays on the connection while the
// response streams, and ends the request's context when it passes).
const bodyTimeout = 60 * time.Second

// bodyDeadline gives requests with a body bodyTimeout to send it.
func bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody && !longRunning(r) {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok"))
}

// ready answers ok once the store answers.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if s.space.full.Load() {
		http.Error(w, "[-]store failed: no space left on the store's disk", http.StatusServiceUnavailable)
		return
	}
	if _, err := s.store.Revision(ctx); err != nil {
		http.Error(w, "[-]store failed: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	s.health(w, r)
}

// logRequests logs each request at debug level, slow ones at info, and those that failed with
// a server error (5xx, noted by writeError) at warn.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		fw := &failureWriter{ResponseWriter: w}
		next.ServeHTTP(fw, r)
		d := time.Since(start)
		if fw.code >= 500 {
			s.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "code", fw.code, "reason", fw.reason, "message", fw.message)
		}
		level := slog.LevelDebug
		if d > time.Second && r.URL.Query().Get("watch") == "" {
			level = slog.LevelInfo
		}
		s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "duration", d)
	})
}

// failureWriter carries the server error writeError answered with to logRequests.
type failureWriter struct {
	http.ResponseWriter
	code            int
	reason, message string
}

func (f *failureWriter) noteFailure(code int, reason, message string) {
	f.code, f.reason, f.message = code, reason, message
}

// Hijack passes hijacking on (exec, attach, port-forward and proxied WebSocket upgrades).
func (f *failureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := f.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("the connection cannot be hijacked")
	}
	return hj.Hijack()
}

// Unwrap lets http.ResponseController reach the connection (watch flushing, hijacking).
func (f *failureWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// Flush passes flushes on (watches stream through it).
func (f *failureWriter) Flush() {
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}
