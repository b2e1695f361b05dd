package nodeagent

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// serveLogs serves /containerLogs/NAMESPACE/POD/CONTAINER to the API server, which proxies
// `kubectl logs` here. Requests must carry the agent's own bearer token.
func (a *Agent) serveLogs(ctx context.Context) {
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/", a.handleLogs)
	srv := &http.Server{Addr: net.JoinHostPort("", strconv.Itoa(a.cfg.LogPort)), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && ctx.Err() == nil {
		a.log.Error("log server stopped", "port", a.cfg.LogPort, "err", err)
	}
}

// LogHandler returns the agent's log handler (for an API server in the same process).
func (a *Agent) LogHandler() http.Handler { return http.HandlerFunc(a.handleLogs) }

func (a *Agent) handleLogs(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Token != "" {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(tok), []byte(a.cfg.Token)) != 1 {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/"), "/")
	if len(parts) != 3 {
		http.Error(w, "want /containerLogs/NAMESPACE/POD/CONTAINER", http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	c, status, err := a.findLogContainer(r.Context(), parts[0], parts[1], parts[2], q.Get("previous") == "true")
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	opts := container.LogOptions{Follow: q.Get("follow") == "true", Tail: -1, Timestamps: q.Get("timestamps") == "true"}
	if v := q.Get("tailLines"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			opts.Tail = n
		}
	}
	if v := q.Get("sinceSeconds"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			opts.Since = time.Now().Add(-time.Duration(n) * time.Second)
		}
	}
	if v := q.Get("sinceTime"); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			opts.Since = t
		}
	}
	rc, err := a.cfg.Runtime.Logs(r.Context(), c.ID, opts)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	copyFlushing(w, rc, q.Get("limitBytes"))
}

// findLogContainer picks the current attempt of a pod's container, or the previous one.
func (a *Agent) findLogContainer(ctx context.Context, ns, name, cname string, previous bool) (container.Container, int, error) {
	var pod *corev1.Pod
	a.mu.Lock()
	for _, p := range a.pods {
		if p.Namespace == ns && p.Name == name {
			pod = p
		}
	}
	a.mu.Unlock()
	if pod == nil {
		return container.Container{}, http.StatusNotFound, fmt.Errorf("pod %s/%s is not on node %s", ns, name, a.cfg.NodeName)
	}
	cs, err := a.cfg.Runtime.List(ctx, map[string]string{LabelPodUID: string(pod.UID), LabelContainer: cname})
	if err != nil {
		return container.Container{}, http.StatusInternalServerError, err
	}
	view := newPodView(cs)
	c := view.current(cname)
	if previous {
		c = view.previous(cname)
		if c == nil {
			return container.Container{}, http.StatusBadRequest, fmt.Errorf("previous terminated container %q in pod %q not found", cname, name)
		}
	}
	if c == nil {
		return container.Container{}, http.StatusBadRequest, fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", cname, name)
	}
	return *c, http.StatusOK, nil
}

func copyFlushing(w http.ResponseWriter, r io.Reader, limit string) {
	max := int64(-1)
	if n, err := strconv.ParseInt(limit, 10, 64); err == nil && n > 0 {
		max = n
	}
	fl, _ := w.(http.Flusher)
	buf := make([]byte, 32*1024)
	var written int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if max >= 0 && written+int64(n) > max {
				n = int(max - written)
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			written += int64(n)
			if fl != nil {
				fl.Flush()
			}
			if max >= 0 && written >= max {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
