package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/nodeauthz"
	"github.com/drover-ci/drover/cluster/registry"
)

// admitNodeRestriction is NodeRestriction admission (cluster/nodeauthz) for a write of the
// request's user: op is nodeauthz.Create, Update or Delete, obj the new object (nil for a
// delete), old the stored one (nil for a create).
func (s *Server) admitNodeRestriction(ctx context.Context, op string, res *registry.Resource, sub string, obj, old runtime.Object) error {
	u, _ := genericrequest.UserFrom(ctx)
	if nodeauthz.NodeName(u) == "" {
		return nil
	}
	a := nodeauthz.Attributes{User: u, Operation: op, Resource: res.GroupVersionResource().GroupResource(), Subresource: sub,
		Object: obj, OldObject: old}
	m := obj
	if m == nil {
		m = old
	}
	if m != nil {
		a.Namespace, a.Name = accessor(m).GetNamespace(), accessor(m).GetName()
	}
	return nodeauthz.Admit(a)
}

// admitNodeTokenRequest is NodeRestriction for a TokenRequest of a node: bound to a pod on it.
func (s *Server) admitNodeTokenRequest(ctx context.Context, ns, sa string, podName string) error {
	u, _ := genericrequest.UserFrom(ctx)
	if nodeauthz.NodeName(u) == "" {
		return nil
	}
	node := ""
	if podName != "" {
		if obj, _, err := s.getObject(ctx, s.lookup(podsGVR), ns, podName); err == nil {
			node = obj.(*corev1.Pod).Spec.NodeName
		}
	}
	return nodeauthz.CheckTokenRequest(u, ns, sa, podName != "", node)
}

// nodeAuthorizer is the Node authorizer with the informers that feed its graph.
type nodeAuthorizer struct {
	authorizer authorizer.Authorizer
}

// loopback is the server's client of itself: system:apiserver in system:masters, a client
// certificate from the CA that never leaves the process, and one informer factory for what
// the server follows through it (the Node authorizer's graph, the admission webhooks'
// configurations and namespaces, the admission policies and their bindings; cfg for the
// policies' dynamic client of parameter resources).
type loopback struct {
	cfg     *rest.Config
	cs      kubernetes.Interface
	factory informers.SharedInformerFactory
}

func newLoopback(pki *PKI, url string) (*loopback, error) {
	cert, err := pki.IssueUser(user.APIServerUser, user.SystemPrivilegedGroup)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := EncodeCertificate(cert)
	if err != nil {
		return nil, err
	}
	cfg := &rest.Config{Host: url, UserAgent: "drover-apiserver-loopback", QPS: -1,
		TLSClientConfig: rest.TLSClientConfig{CAData: pki.CACertPEM, CertData: certPEM, KeyData: keyPEM}}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	// The informers keep no managed fields (as kube-apiserver's loopback ones read them, none
	// of their users does; a pod's are a third of it).
	return &loopback{cfg: cfg, cs: cs, factory: informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTransform(controller.StripManagedFields))}, nil
}

// start runs the loopback informers until ctx ends.
func (l *loopback) start(ctx context.Context) {
	if l != nil {
		l.factory.Start(ctx.Done())
	}
}

// newNodeAuthorizer builds the Node authorizer over a graph fed through the loopback informers.
func newNodeAuthorizer(lb *loopback) (*nodeAuthorizer, error) {
	graph := nodeauthz.NewGraph()
	synced, err := graph.Watch(lb.factory)
	if err != nil {
		return nil, err
	}
	return &nodeAuthorizer{authorizer: nodeauthz.NewAuthorizer(graph, func() bool {
		for _, f := range synced {
			if !f() {
				return false
			}
		}
		return true
	})}, nil
}
