package nodeagent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// handleLogs serves GET /containerLogs/NAMESPACE/POD/CONTAINER: the API server proxies
// `kubectl logs` here.
func (a *Agent) handleLogs(w http.ResponseWriter, r *http.Request) {
	ref := refOf(r)
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

// refOf is the container a request path names ({namespace}/{pod}/{container}).
func refOf(r *http.Request) containerRef {
	return containerRef{r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")}
}

// findContainer returns the current attempt of a pod's container, or the previous one, with
// the HTTP status of the error when there is none.
func (a *Agent) findContainer(ctx context.Context, ref containerRef, previous bool) (container.Container, int, error) {
	pod := a.podByName(ref.namespace, ref.pod)
	if pod == nil {
		return container.Container{}, http.StatusNotFound, fmt.Errorf("pod %s/%s is not on node %s", ref.namespace, ref.pod, a.cfg.NodeName)
	}
	cs, err := a.listContainers(ctx, map[string]string{LabelPodUID: string(pod.UID), LabelContainer: ref.container})
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
