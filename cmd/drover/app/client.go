package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// clientFlags are the kubectl-compatible connection flags shared by the client verbs.
type clientFlags struct {
	kubeconfig string
	context    string
	namespace  string
	server     string
	token      string
	insecure   bool
	as         string
	asGroups   []string
	asUID      string
}

func (f *clientFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.context, "context", "", "the kubeconfig context to use")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "the namespace of the request")
	fs.StringVarP(&f.server, "server", "s", "", "the address of the API server (overrides the kubeconfig)")
	fs.StringVar(&f.token, "token", "", "bearer token for authentication (overrides the kubeconfig)")
	fs.BoolVar(&f.insecure, "insecure-skip-tls-verify", false, "do not verify the server's certificate")
	fs.StringVar(&f.as, "as", "", "username to impersonate for the operation (a user or system:serviceaccount:NS:NAME)")
	fs.StringArrayVar(&f.asGroups, "as-group", nil, "group to impersonate for the operation (repeat for several)")
	fs.StringVar(&f.asUID, "as-uid", "", "UID to impersonate for the operation")
}

// clientConfig loads the kubeconfig the way kubectl does: --kubeconfig, else $KUBECONFIG
// (a path list, merged), else ~/.kube/config — and, for drover's own verbs, else the kubeconfig
// `drover up` writes in its default data dir — with --context, --namespace and --server
// overrides.
func (f *clientFlags) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	if os.Getenv(clientcmd.RecommendedConfigPathEnvVar) == "" && len(rules.Precedence) == 1 && !fileExists(rules.Precedence[0]) {
		// No $KUBECONFIG and no ~/.kube/config: the one `make up` made, if any.
		rules.Precedence = append(rules.Precedence, filepath.Join(defaultDataDir(), "kubeconfig"))
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.context}
	overrides.Context.Namespace = f.namespace
	overrides.ClusterInfo.Server = f.server
	overrides.ClusterInfo.InsecureSkipTLSVerify = f.insecure
	overrides.AuthInfo.Token = f.token
	overrides.AuthInfo.Impersonate = f.as
	overrides.AuthInfo.ImpersonateGroups = f.asGroups
	overrides.AuthInfo.ImpersonateUID = f.asUID
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// clients bundles what the verbs talk to the API server with.
type clients struct {
	config     *rest.Config
	namespace  string // from --namespace or the kubeconfig context, "default" otherwise
	dynamic    dynamic.Interface
	typed      kubernetes.Interface
	discovery  discovery.DiscoveryInterface
	mapper     meta.RESTMapper
	categories restmapper.CategoryExpander
}

// connect builds the clients from the flags.
func (f *clientFlags) connect() (*clients, error) {
	cc := f.clientConfig()
	cfg, err := cc.ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, noKubeconfigError(cc)
	}
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig namespace: %w", err)
	}
	cfg.UserAgent = "drover"
	// Polling verbs (rolling-update, delete --wait) need more than client-go's default 5 QPS.
	cfg.QPS, cfg.Burst = 50, 100
	c, err := newClients(cfg, ns)
	if err != nil {
		return nil, err
	}
	// One authenticated request first, so that a wrong host, port, token or CA is reported as
	// kubectl reports it, before discovery's own retries log "Unhandled Error" lines and end
	// in "the server doesn't have a resource type".
	if err := probe(c.config); err != nil {
		return nil, err
	}
	return c, nil
}

// probe GETs /api, which needs authentication (unlike /version), and turns a failure into
// the message kubectl prints for it.
func probe(cfg *rest.Config) error {
	rc, err := rest.UnversionedRESTClientFor(withCodecs(cfg))
	if err != nil {
		return fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rc.Get().AbsPath("/api").Do(ctx).Error(); err != nil {
		return connectionError(cfg.Host, err)
	}
	return nil
}

// ownConnection is cfg for a client of heartbeats and Lease renewals: a transport of its own
// (a dialer of its own keeps client-go from sharing a cached transport, hence a connection,
// with the component's other clients), no client-side rate limit, and requests bounded by
// timeout, as the kubelet's heartbeat client.
func ownConnection(cfg *rest.Config, userAgent string, timeout time.Duration) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = -1, 0
	c.Timeout = timeout
	c.UserAgent = userAgent
	c.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return c
}

// withCodecs is cfg with the codecs an unversioned REST client needs to decode a Status.
func withCodecs(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	return c
}

// connectionError words a failed request to host as kubectl's StandardErrorMessage does.
func connectionError(host string, err error) error {
	if status, ok := err.(apierrors.APIStatus); ok || errors.As(err, &status) {
		s := status.Status()
		switch s.Reason {
		case metav1.StatusReasonUnauthorized:
			return fmt.Errorf("You must be logged in to the server (%s)", s.Message)
		case metav1.StatusReasonForbidden:
			return fmt.Errorf("Forbidden (%s)", s.Message)
		}
		return err
	}
	if u, perr := url.Parse(host); perr == nil && u.Host != "" {
		host = u.Host
	}
	if utilnet.IsConnectionRefused(err) {
		return fmt.Errorf("The connection to the server %s was refused - did you specify the right host or port?", host)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("Unable to connect to the server: dial tcp: lookup %s: no such host", dnsErr.Name)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("Unable to connect to the server: %v", urlErr.Err)
	}
	return fmt.Errorf("Unable to connect to the server %s: %w", host, err)
}

// noKubeconfigError names the places looked at and how to get a kubeconfig.
func noKubeconfigError(cc clientcmd.ClientConfig) error {
	var looked []string
	if rules, ok := cc.ConfigAccess().(*clientcmd.ClientConfigLoadingRules); ok {
		if rules.ExplicitPath != "" {
			looked = append(looked, rules.ExplicitPath+" (--kubeconfig)")
		}
		if os.Getenv(clientcmd.RecommendedConfigPathEnvVar) == "" {
			looked = append(looked, "$KUBECONFIG (unset)")
		}
		for _, p := range rules.Precedence {
			looked = append(looked, p)
		}
	}
	return fmt.Errorf("no kubeconfig found (looked at %s): start drover with `make up` (or `drover up`), "+
		"which writes %s, or pass --kubeconfig or --server and --token",
		strings.Join(looked, ", "), filepath.Join(defaultDataDir(), "kubeconfig"))
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// newClients builds dynamic, typed and discovery clients and a discovery-based RESTMapper
// (plural, singular, kind and short names) for cfg.
func newClients(cfg *rest.Config, namespace string) (*clients, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	cached := memory.NewMemCacheClient(dc)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("clientset: %w", err)
	}
	return fromDiscovery(cfg, namespace, dyn, typed, cached), nil
}

// fromDiscovery completes a clients from a (cached) discovery client; tests pass fakes.
func fromDiscovery(cfg *rest.Config, namespace string, dyn dynamic.Interface, typed kubernetes.Interface,
	disco discovery.CachedDiscoveryInterface) *clients {
	if namespace == "" {
		namespace = "default"
	}
	deferred := restmapper.NewDeferredDiscoveryRESTMapper(disco)
	return &clients{
		config:     cfg,
		namespace:  namespace,
		dynamic:    dyn,
		typed:      typed,
		discovery:  disco,
		mapper:     restmapper.NewShortcutExpander(deferred, disco, nil),
		categories: restmapper.NewDiscoveryCategoryExpander(disco),
	}
}
