package app

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
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
}

func (f *clientFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.context, "context", "", "the kubeconfig context to use")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "the namespace of the request")
	fs.StringVarP(&f.server, "server", "s", "", "the address of the API server (overrides the kubeconfig)")
	fs.StringVar(&f.token, "token", "", "bearer token for authentication (overrides the kubeconfig)")
	fs.BoolVar(&f.insecure, "insecure-skip-tls-verify", false, "do not verify the server's certificate")
}

// clientConfig loads the kubeconfig the way kubectl does: --kubeconfig, else $KUBECONFIG
// (a path list, merged), else ~/.kube/config, with --context, --namespace and --server overrides.
func (f *clientFlags) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.context}
	overrides.Context.Namespace = f.namespace
	overrides.ClusterInfo.Server = f.server
	overrides.ClusterInfo.InsecureSkipTLSVerify = f.insecure
	overrides.AuthInfo.Token = f.token
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
	return newClients(cfg, ns)
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
