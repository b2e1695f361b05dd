package apiserver

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	"k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apiserver/pkg/admission"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	streamproxy "k8s.io/apiserver/pkg/util/proxy"

	"github.com/drover-ci/drover/cluster/apiserver/discovery"
)

// serveStream answers pods/exec, pods/attach and pods/portforward as kube-apiserver does: it
// checks the pod and container, then proxies the upgraded connection to the node agent of the
// pod's node over TLS with the API server's own client certificate. SPDY passes through
// (UpgradeAwareHandler); kubectl's WebSocket exec and attach (v5.channel.k8s.io) are
// translated to SPDY (StreamTranslatorHandler), and its WebSocket port-forward tunnels SPDY
// (TunnelingHandler).
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, req *request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		writeError(w, apierrors.NewMethodNotSupported(req.gr(), r.Method))
		return
	}
	obj, _, err := s.getObject(r.Context(), req.res, req.namespace, req.name)
	if err != nil {
		writeError(w, err)
		return
	}
	pod := obj.(*corev1.Pod)
	q := r.URL.Query()
	path, params := "/portForward/"+pod.Namespace+"/"+pod.Name, url.Values{}
	opts := streamproxy.Options{Stdin: isTrue(q.Get("stdin")), Stdout: isTrue(q.Get("stdout")), Stderr: isTrue(q.Get("stderr")), Tty: isTrue(q.Get("tty"))}
	if err := s.admitConnect(r, req, pod, opts); err != nil {
		writeError(w, err)
		return
	}
	if req.subresource != "portforward" {
		cname, err := podContainer(pod, q.Get("container"))
		if err != nil {
			writeError(w, err)
			return
		}
		if req.subresource == "exec" && len(q["command"]) == 0 {
			writeError(w, badRequest("you must specify at least one command for the container"))
			return
		}
		path = "/" + req.subresource + "/" + pod.Namespace + "/" + pod.Name + "/" + cname
		params["command"] = q["command"]
		for name, on := range map[string]bool{"input": opts.Stdin, "output": opts.Stdout, "error": opts.Stderr, "tty": opts.Tty} {
			if on {
				params.Set(name, "1")
			}
		}
	} else {
		params["port"] = q["ports"]
	}
	loc, err := s.nodeURL(r, pod, path)
	if err != nil {
		writeError(w, err)
		return
	}
	loc.RawQuery = params.Encode()
	transport := s.nodeTransport
	upgrade := proxy.NewUpgradeAwareHandler(loc, transport, false, true, responder{})
	var h http.Handler = upgrade
	if req.subresource == "portforward" {
		h = streamproxy.NewTranslatingHandler(upgrade, streamproxy.NewTunnelingHandler(upgrade), wsstream.IsWebSocketRequestWithTunnelingProtocol)
	} else {
		h = streamproxy.NewTranslatingHandler(upgrade, streamproxy.NewStreamTranslatorHandler(loc, transport, 0, opts), wsstream.IsWebSocketRequestWithStreamCloseProtocol)
	}
	h.ServeHTTP(w, r)
}

// admitConnect runs the admission webhooks of a CONNECT: the object is the request's options
// (PodExecOptions, PodAttachOptions, PodPortForwardOptions), as kube-apiserver sends them.
func (s *Server) admitConnect(r *http.Request, req *request, pod *corev1.Pod, o streamproxy.Options) error {
	if s.webhooks.Load() == nil {
		return nil
	}
	q := r.URL.Query()
	var opts runtime.Object
	switch req.subresource {
	case "exec":
		opts = &corev1.PodExecOptions{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, TTY: o.Tty, Container: q.Get("container"), Command: q["command"]}
	case "attach":
		opts = &corev1.PodAttachOptions{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, TTY: o.Tty, Container: q.Get("container")}
	default:
		pf := &corev1.PodPortForwardOptions{}
		for _, p := range q["ports"] {
			if n, err := strconv.ParseInt(p, 10, 32); err == nil {
				pf.Ports = append(pf.Ports, int32(n))
			}
		}
		opts = pf
	}
	kind := discovery.SubresourceKind(req.res, req.subresource)
	opts.GetObjectKind().SetGroupVersionKind(kind)
	u, _ := genericrequest.UserFrom(r.Context())
	attrs := admission.NewAttributesRecord(opts, nil, kind, pod.Namespace, pod.Name, req.res.GroupVersionResource(),
		req.subresource, admission.Connect, nil, false, u)
	if err := s.webhooks.Load().mutate(r.Context(), attrs); err != nil {
		return err
	}
	return s.webhooks.Load().validate(r.Context(), attrs)
}

func isTrue(v string) bool { return v == "true" || v == "1" }

// podContainer is the container a request names (the only one when it names none), with
// Kubernetes' errors.
func podContainer(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		if len(pod.Spec.Containers) != 1 {
			names := make([]string, len(pod.Spec.Containers))
			for i, c := range pod.Spec.Containers {
				names[i] = c.Name
			}
			return "", badRequest("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(names, " "))
		}
		return pod.Spec.Containers[0].Name, nil
	}
	for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.EphemeralContainers { // kubectl debug attaches to these
		if c.Name == name {
			return name, nil
		}
	}
	return "", badRequest("container %s is not valid for pod %s", name, pod.Name)
}

// nodeURL is the https URL of path on the node agent of pod's node: its InternalIP and the
// port it reports. A pod on no node, or on a node that is not Ready, gets a clear error
// instead of a dial that hangs.
func (s *Server) nodeURL(r *http.Request, pod *corev1.Pod, path string) (*url.URL, error) {
	if pod.Spec.NodeName == "" {
		return nil, badRequest("pod %s does not have a host assigned", pod.Name)
	}
	res, ok := s.resources.Lookup(nodesGVR)
	if !ok {
		return nil, apierrors.NewNotFound(nodesGVR.GroupResource(), pod.Spec.NodeName)
	}
	obj, _, err := s.getObject(r.Context(), res, "", pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return nil, statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("pod %s is on node %s, which does not exist", pod.Name, pod.Spec.NodeName))
	}
	if err != nil {
		return nil, err
	}
	node := obj.(*corev1.Node)
	ready := false
	for _, c := range node.Status.Conditions {
		ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
	}
	if !ready {
		return nil, statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("pod %s is on node %s, which is not ready", pod.Name, node.Name))
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		return nil, statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("node %s serves no node agent port", node.Name))
	}
	host := "127.0.0.1"
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			host = a.Address
			break
		}
	}
	if s.nodeTransport == nil {
		return nil, statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, "this API server has no credential for node agents")
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: path}, nil
}

// responder answers a failed proxy or upgrade with a Status naming the cause.
type responder struct{}

func (responder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	writeError(w, statusError(http.StatusBadGateway, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("error dialing backend: %v", err)))
}
