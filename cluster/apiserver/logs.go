package apiserver

import (
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var nodesGVR = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// serveLog answers pods/log by proxying to the node agent that runs the pod: GET
// http://NODE-IP:PORT/containerLogs/NS/POD/CONTAINER with the query kubectl sent (follow,
// previous, tailLines, sinceSeconds, sinceTime, timestamps, limitBytes). An agent in the same
// process is reached directly through Config.Logs.
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	obj, _, err := s.getObject(ctx, req.res, req.namespace, req.name)
	if err != nil {
		writeError(w, err)
		return
	}
	pod := obj.(*corev1.Pod)
	cname := r.URL.Query().Get("container")
	if cname == "" {
		if len(pod.Spec.Containers) != 1 {
			names := make([]string, len(pod.Spec.Containers))
			for i, c := range pod.Spec.Containers {
				names[i] = c.Name
			}
			writeError(w, badRequest("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(names, " ")))
			return
		}
		cname = pod.Spec.Containers[0].Name
	}
	found := false
	for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		found = found || c.Name == cname
	}
	if !found {
		writeError(w, badRequest("container %s is not valid for pod %s", cname, pod.Name))
		return
	}
	if pod.Spec.NodeName == "" {
		writeError(w, badRequest("pod %s does not have a host assigned", pod.Name))
		return
	}
	path := "/containerLogs/" + pod.Namespace + "/" + pod.Name + "/" + cname
	if s.logs != nil {
		r2 := r.Clone(ctx)
		r2.URL = &url.URL{Path: path, RawQuery: r.URL.RawQuery}
		s.logs.ServeHTTP(w, r2)
		return
	}
	target, err := s.nodeLogURL(r, pod.Spec.NodeName, path)
	if err != nil {
		writeError(w, err)
		return
	}
	preq, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if s.nodeToken != "" {
		preq.Header.Set("Authorization", "Bearer "+s.nodeToken)
	}
	resp, err := logClient.Do(preq)
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

var logClient = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 30 * time.Second}}

// nodeLogURL is the log endpoint of node: its InternalIP and the port it reports.
func (s *Server) nodeLogURL(r *http.Request, nodeName, path string) (string, error) {
	res, ok := s.resources.Lookup(nodesGVR)
	if !ok {
		return "", apierrors.NewNotFound(nodesGVR.GroupResource(), nodeName)
	}
	obj, _, err := s.getObject(r.Context(), res, "", nodeName)
	if err != nil {
		return "", err
	}
	node := obj.(*corev1.Node)
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		return "", statusError(http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, fmt.Sprintf("node %s serves no logs", nodeName))
	}
	host := ""
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			host = a.Address
			break
		}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: path, RawQuery: r.URL.RawQuery}
	return u.String(), nil
}
