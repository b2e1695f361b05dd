package apiserver

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
)

var nodesGVR = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// serveLog answers pods/log by proxying to the node agent that runs the pod: GET
// https://NODE-IP:PORT/containerLogs/NS/POD/CONTAINER with the query kubectl sent (follow,
// previous, tailLines, sinceSeconds, sinceTime, timestamps, limitBytes), over TLS with the API
// server's client certificate. A WebSocket upgrade gets the log as WebSocket messages, as
// Kubernetes serves it (the conformance suite reads logs so).
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	obj, _, err := s.getObject(ctx, req.res, req.namespace, req.name)
	if err != nil {
		writeError(w, err)
		return
	}
	pod := obj.(*corev1.Pod)
	cname, err := podContainer(pod, r.URL.Query().Get("container"))
	if err != nil {
		writeError(w, err)
		return
	}
	loc, err := s.nodeURL(r, pod, "/containerLogs/"+pod.Namespace+"/"+pod.Name+"/"+cname)
	if err != nil {
		writeError(w, err)
		return
	}
	loc.RawQuery = r.URL.RawQuery
	preq, _ := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	resp, err := (&http.Client{Transport: s.nodeTransport}).Do(preq)
	if err != nil {
		writeError(w, statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("node %s: %v", pod.Spec.NodeName, err)))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		writeError(w, statusError(resp.StatusCode, metav1.StatusReasonBadRequest, strings.TrimSpace(string(msg))))
		return
	}
	if wsstream.IsWebSocketRequest(r) {
		// As Kubernetes' REST stream: each read of the log is a WebSocket message, raw with
		// the "binary.k8s.io" subprotocol (or none), base64 with "base64.binary.k8s.io".
		if err := wsstream.NewReader(resp.Body, true, wsstream.NewDefaultReaderProtocols()).Copy(w, r); err != nil {
			s.log.Debug("pods/log over WebSocket", "pod", pod.Name, "err", err)
		}
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	buf := make([]byte, 32*1024)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}
