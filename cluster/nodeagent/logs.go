package nodeagent

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// serveLogs serves /containerLogs/NAMESPACE/POD/CONTAINER to the API server, which proxies
// `kubectl logs` here, and /metrics/resource, which the API server's resource metrics
// collector scrapes. Requests must carry the agent's own bearer token.
func (a *Agent) serveLogs(ctx context.Context) {
	srv := &http.Server{Addr: net.JoinHostPort("", strconv.Itoa(a.cfg.LogPort)), Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && ctx.Err() == nil {
		a.log.Error("log server stopped", "port", a.cfg.LogPort, "err", err)
	}
}

// Handler returns what the agent serves to the API server (/containerLogs/ and
// /metrics/resource), for its log port and for an API server in the same process.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/", a.handleLogs)
	a.RegisterMetrics(mux)
	return mux
}

// LogHandler returns the agent's log handler (for an API server in the same process).
func (a *Agent) LogHandler() http.Handler { return http.HandlerFunc(a.handleLogs) }

func (a *Agent) handleLogs(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	ref, ok := parseContainerRef(r.URL.Path, "/containerLogs/")
	if !ok {
		http.Error(w, "want /containerLogs/NAMESPACE/POD/CONTAINER", http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	c, status, err := a.findContainer(r.Context(), ref, q.Get("previous") == "true")
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	rc, err := a.cfg.Runtime.Logs(r.Context(), c.ID, logOptions(q))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	copyFlushing(w, rc, q.Get("limitBytes"))
}

// authorized checks that the request carries the agent's own bearer token (when it has one),
// and answers 401 when not.
func (a *Agent) authorized(w http.ResponseWriter, r *http.Request) bool {
	if a.cfg.Token == "" {
		return true
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(tok), []byte(a.cfg.Token)) != 1 {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return false
	}
	return true
}

// logOptions reads `kubectl logs`' query parameters.
func logOptions(q url.Values) container.LogOptions {
	opts := container.LogOptions{Follow: q.Get("follow") == "true", Tail: -1, Timestamps: q.Get("timestamps") == "true"}
	if n, err := strconv.Atoi(q.Get("tailLines")); err == nil {
		opts.Tail = n
	}
	if n, err := strconv.Atoi(q.Get("sinceSeconds")); err == nil {
		opts.Since = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if t, err := time.Parse(time.RFC3339, q.Get("sinceTime")); err == nil {
		opts.Since = t
	}
	return opts
}

// containerRef names a container of a pod: the NAMESPACE/POD/CONTAINER of a request path.
type containerRef struct{ namespace, pod, container string }

// parseContainerRef reads prefix + NAMESPACE/POD/CONTAINER.
func parseContainerRef(path, prefix string) (containerRef, bool) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(path, prefix), "/"), "/")
	if len(parts) != 3 {
		return containerRef{}, false
	}
	return containerRef{parts[0], parts[1], parts[2]}, true
}

// findContainer returns the current attempt of a pod's container, or the previous one, with
// the HTTP status of the error when there is none.
func (a *Agent) findContainer(ctx context.Context, ref containerRef, previous bool) (container.Container, int, error) {
	pod := a.podByName(ref.namespace, ref.pod)
	if pod == nil {
		return container.Container{}, http.StatusNotFound, fmt.Errorf("pod %s/%s is not on node %s", ref.namespace, ref.pod, a.cfg.NodeName)
	}
	cs, err := a.cfg.Runtime.List(ctx, map[string]string{LabelPodUID: string(pod.UID), LabelContainer: ref.container})
	if err != nil {
		return container.Container{}, http.StatusInternalServerError, err
	}
	view := newPodView(cs)
	c := view.current(ref.container)
	if previous {
		c = view.previous(ref.container)
		if c == nil {
			return container.Container{}, http.StatusBadRequest, fmt.Errorf("previous terminated container %q in pod %q not found", ref.container, ref.pod)
		}
	}
	if c == nil {
		return container.Container{}, http.StatusBadRequest, fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", ref.container, ref.pod)
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
