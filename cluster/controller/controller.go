// Package controller holds what every control loop of the controller manager shares: the
// Context it is built from (clients, shared informers, an event recorder, options) and the
// Controller interface the manager runs. The loops live in sub-packages (replication,
// endpoints, nodelifecycle, serviceip, pvbinder); cluster/controller/manager runs them on the
// leader only.
package controller

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	"k8s.io/utils/clock"
)

// Controller is one control loop.
type Controller interface {
	// Name is the loop's name in logs and events (e.g. "replication").
	Name() string
	// Run works until ctx ends. Informers passed in the Context are started by the manager
	// after every controller was constructed; Run waits for their caches itself.
	Run(ctx context.Context) error
}

// Context is what a controller is built from.
type Context struct {
	Client kubernetes.Interface
	// Metrics reads the resource metrics API (metrics.k8s.io/v1beta1; nil: none, the
	// autoscaler then reports that it cannot get metrics).
	Metrics   metricsv1beta1.MetricsV1beta1Interface
	Informers informers.SharedInformerFactory
	// Recorder returns an event recorder whose events name component.
	Recorder func(component string) record.EventRecorder
	Clock    clock.WithTicker
	Options  Options
	// Logger receives the controller's logs (the manager gives each controller its own,
	// with a "controller" attribute naming it; nil: they are dropped, see LoggerOrDiscard).
	Logger *slog.Logger
}

// LoggerOrDiscard is c.Logger, or a logger that drops every record when c has none.
func (c Context) LoggerOrDiscard() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Options are the controller manager's settings (flags of drover server / drover up).
type Options struct {
	// ServiceCIDR is where cluster IPs come from (default 10.96.0.0/16).
	ServiceCIDR string
	// NodePortMin and NodePortMax bound NodePorts (default 30000–32767).
	NodePortMin, NodePortMax int
	// NodeMonitorGracePeriod: a node whose Lease is older is NotReady (Unknown) (default 40 s).
	NodeMonitorGracePeriod time.Duration
	// PodEvictionTimeout: after this long NotReady a node's pods are deleted (default 60 s).
	PodEvictionTimeout time.Duration
	// Workers is how many items each controller works on at once (default 4).
	Workers int
	// ClusterCIDR is where nodes' pod subnets come from (default 10.244.0.0/16; "none":
	// no pod subnets are allocated), NodeCIDRMaskSize their prefix length (default 24).
	ClusterCIDR      string
	NodeCIDRMaskSize int
	// RootCA is the PEM CA bundle that verifies the API server (controller-manager's
	// --root-ca-file): published in every namespace as the ConfigMap kube-root-ca.crt.
	RootCA []byte
	// ClusterSigningCertFile and ClusterSigningKeyFile are the CA that signs approved
	// kubelet-serving CertificateSigningRequests (controller-manager's
	// --cluster-signing-cert-file/--cluster-signing-key-file; "": none are signed).
	ClusterSigningCertFile, ClusterSigningKeyFile string
	// APIServerAddress is where pods reach the API server (--advertise-address and the
	// listen port): the kubernetes Service's Endpoints. Invalid: the address of the
	// controllers' own client, when pods can use it (not loopback).
	APIServerAddress netip.AddrPort
}

// WithDefaults fills the zero fields.
func (o Options) WithDefaults() Options {
	if o.ServiceCIDR == "" {
		o.ServiceCIDR = "10.96.0.0/16"
	}
	if o.NodePortMin == 0 {
		o.NodePortMin = 30000
	}
	if o.NodePortMax == 0 {
		o.NodePortMax = 32767
	}
	if o.NodeMonitorGracePeriod == 0 {
		o.NodeMonitorGracePeriod = 40 * time.Second
	}
	if o.PodEvictionTimeout == 0 {
		o.PodEvictionTimeout = 60 * time.Second
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = "10.244.0.0/16"
	}
	if o.NodeCIDRMaskSize == 0 {
		o.NodeCIDRMaskSize = 24
	}
	return o
}

// Constructor builds a controller from the shared context.
type Constructor func(Context) (Controller, error)

// Construct makes a Constructor of a controller package's New, which returns its concrete type.
func Construct[C Controller](newController func(Context) (C, error)) Constructor {
	return func(cc Context) (Controller, error) {
		c, err := newController(cc)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// StripManagedFields is the informers' transform that drops metadata.managedFields from what
// they cache, as kube-controller-manager's and kube-scheduler's do: no controller reads them,
// and a pod's are a third of its size. An update sent from a cached copy carries none, which
// the API server reads as "keep the live object's" (as kube-apiserver does).
func StripManagedFields(obj interface{}) (interface{}, error) {
	if m, err := meta.Accessor(obj); err == nil && m.GetManagedFields() != nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
