package apiserver

import (
	"bytes"
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

var metricsClient = &http.Client{Timeout: 10 * time.Second}

// fetchResourceMetrics GETs node's /metrics/resource. A node that publishes no port is the
// agent in this process (drover up), when there is one (Config.Logs).
func (s *Server) fetchResourceMetrics(ctx context.Context, node *corev1.Node) (io.ReadCloser, error) {
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 && s.logs != nil {
		return s.fetchLocal(ctx)
	}
	if port == 0 {
		return nil, fmt.Errorf("node %s serves no metrics", node.Name)
	}
	host := "127.0.0.1"
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			host = a.Address
			break
		}
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/metrics/resource"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if s.nodeToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.nodeToken)
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		return nil, fmt.Errorf("node %s: %s: %s", node.Name, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp.Body, nil
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

// fetchLocal asks the in-process agent's handler.
func (s *Server) fetchLocal(ctx context.Context) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/metrics/resource", nil)
	if err != nil {
		return nil, err
	}
	if s.nodeToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.nodeToken)
	}
	w := &bufferWriter{header: http.Header{}, code: http.StatusOK}
	s.logs.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		return nil, fmt.Errorf("local node agent: %d: %s", w.code, strings.TrimSpace(w.body.String()))
	}
	return io.NopCloser(&w.body), nil
}

// bufferWriter is an http.ResponseWriter into memory.
type bufferWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) WriteHeader(code int)        { b.code = code }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
