package apiserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover-ci/drover/cluster/resourcemetrics"
)

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// newResourceMetrics is the collector behind metrics.k8s.io: it lists the nodes from the store
// and scrapes each node agent's /metrics/resource at its InternalIP and kubelet port with the
// node token, like pods/log.
func (s *Server) newResourceMetrics(resolution time.Duration) *resourcemetrics.Collector {
	return resourcemetrics.New(resourcemetrics.Config{
		Resolution: resolution, Logger: s.log,
		Nodes: func(ctx context.Context) ([]*corev1.Node, error) {
			res, ok := s.resources.Lookup(nodesGVR)
			if !ok {
				return nil, nil
			}
			objs, _, err := s.listObjects(ctx, res, "")
			if err != nil {
				return nil, err
			}
			nodes := make([]*corev1.Node, len(objs))
			for i, o := range objs {
				nodes[i] = o.(*corev1.Node)
			}
			return nodes, nil
		},
		Fetch: s.fetchResourceMetrics,
	})
}

// fetchResourceMetrics GETs node's /metrics/resource over TLS with the API server's client
// certificate, like pods/log.
func (s *Server) fetchResourceMetrics(ctx context.Context, node *corev1.Node) (io.ReadCloser, error) {
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		return nil, fmt.Errorf("node %s serves no metrics", node.Name)
	}
	if s.nodeTransport == nil {
		return nil, fmt.Errorf("no credential for node agents")
	}
	host := "127.0.0.1"
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			host = a.Address
			break
		}
	}
	u := url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/metrics/resource"}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := s.nodeTransport.RoundTrip(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("node %s: %s: %s", node.Name, resp.Status, strings.TrimSpace(string(msg)))
	}
	return cancelOnClose{resp.Body, cancel}, nil
}

// cancelOnClose ends a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// serveResourceMetrics answers get and list of metrics.k8s.io pods and nodes from the
// collector: the objects are those of the pods (nodes) in the store that have metrics, with
// their labels, so label and name selectors work as on the pods themselves.
func (s *Server) serveResourceMetrics(w http.ResponseWriter, r *http.Request, req *request) {
	if req.subresource != "" || (req.verb != "get" && req.verb != "list") {
		writeError(w, apierrors.NewMethodNotSupported(req.gr(), methodVerb(r, req)))
		return
	}
	if s.rmetrics == nil {
		writeError(w, apierrors.NewServiceUnavailable("the resource metrics collector is off"))
		return
	}
	ctx := r.Context()
	base := podsGVR
	if req.res.Resource == "nodes" {
		base = nodesGVR
	}
	res, ok := s.resources.Lookup(base)
	if !ok {
		writeError(w, apierrors.NewNotFound(req.gr(), req.name))
		return
	}
	if req.verb == "get" {
		obj, _, err := s.getObject(ctx, res, req.namespace, req.name)
		if apierrors.IsNotFound(err) {
			err = apierrors.NewNotFound(req.gr(), req.name)
		}
		if err != nil {
			writeError(w, err)
			return
		}
		m, ok := s.metricsOf(req, obj)
		if !ok {
			writeError(w, apierrors.NewNotFound(req.gr(), req.name))
			return
		}
		s.writeObject(w, r, req, http.StatusOK, m)
		return
	}
	sel, err := parseSelectors(r, req.res)
	if err != nil {
		writeError(w, err)
		return
	}
	objs, rev, err := s.listObjects(ctx, res, req.namespace)
	if err != nil {
		writeError(w, err)
		return
	}
	out := []runtime.Object{}
	for _, obj := range objs {
		if m, ok := s.metricsOf(req, obj); ok && sel.matches(req.res, m) {
			out = append(out, m)
		}
	}
	s.writeList(w, r, req, out, rev)
}

// metricsOf is the metrics object of a pod or node, with its kind set.
func (s *Server) metricsOf(req *request, obj runtime.Object) (runtime.Object, bool) {
	var m runtime.Object
	switch o := obj.(type) {
	case *corev1.Pod:
		pm, ok := s.rmetrics.PodMetrics(o)
		if !ok {
			return nil, false
		}
		m = pm
	case *corev1.Node:
		nm, ok := s.rmetrics.NodeMetrics(o)
		if !ok {
			return nil, false
		}
		m = nm
	default:
		return nil, false
	}
	m.GetObjectKind().SetGroupVersionKind(req.res.GroupVersionKind())
	return m, true
}

// methodVerb names the refused request for the 405 message.
func methodVerb(r *http.Request, req *request) string {
	if req.verb != "" {
		return req.verb
	}
	return r.Method
}
