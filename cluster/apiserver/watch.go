package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, req *request) {
	sel, err := parseSelectors(r, req.res)
	if err != nil {
		writeError(w, err)
		return
	}
	resPrefix := listPrefix(req.res, "")
	o, err := parseListOptions(r, resPrefix)
	if err != nil {
		writeError(w, err)
		return
	}
	if s.cached(req.res) && s.serveCachedList(w, r, req, sel, o) {
		return
	}
	// From the store: its newest state only, so a continue token or an exact resourceVersion
	// is served only when the store is still at that revision.
	objs, rev, err := s.listObjects(r.Context(), req.res, req.namespace)
	if err != nil {
		writeError(w, err)
		return
	}
	want := o.contRV
	if o.cont == "" && o.exact() {
		want = o.rvNum
	}
	if want > 0 && want != rev {
		if o.cont != "" {
			writeError(w, continueExpired(o.startKey, resPrefix))
		} else {
			writeError(w, apierrors.NewResourceExpired(listExpired))
		}
		return
	}
	limit := o.limit
	if o.rv == "0" && o.cont == "" {
		limit = 0
	}
	objs = filter(req.res, objs, sel)
	keys := make([]string, 0, len(objs))
	kept := objs[:0]
	for _, obj := range objs {
		m := accessor(obj)
		if key := objectKey(req.res, m.GetNamespace(), m.GetName()); key >= o.startKey {
			keys, kept = append(keys, key), append(kept, obj)
		}
	}
	n, pm, err := page(keys, limit, resPrefix, rev, sel.labels.Empty() && sel.fields.Empty())
	if err != nil {
		writeError(w, err)
		return
	}
	s.writePage(w, r, req, kept[:n], rev, pm)
}

func filter(res *registry.Resource, objs []runtime.Object, sel *selection) []runtime.Object {
	out := objs[:0]
	for _, o := range objs {
		if sel.matches(res, o) {
			out = append(out, o)
		}
	}
	return out
}

// serveWatch streams watch events as Kubernetes does: newline-delimited JSON WatchEvents.
// Without a resourceVersion (or with "0") the current objects come first as ADDED events.
// A resourceVersion older than the retained history ends the stream with a 410 ERROR event.
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	sel, err := parseSelectors(r, req.res)
	if err != nil {
		writeError(w, err)
		return
	}
	if req.name != "" {
		sel.fields = fields.AndSelectors(sel.fields, fields.OneTermEqualSelector("metadata.name", req.name))
	}
	q := r.URL.Query()
	var initial []runtime.Object
	var from int64
	switch rv := q.Get("resourceVersion"); rv {
	case "", "0":
		// The initial objects come from the cache, or from the store below.
	default:
		from, err = strconv.ParseInt(rv, 10, 64)
		if err != nil || from < 0 {
			writeError(w, badRequest("resourceVersion: invalid value %q", rv))
			return
		}
		if q.Get("sendInitialEvents") == "true" {
			writeError(w, badRequest("sendInitialEvents is only supported with resourceVersion unset or \"0\""))
			return
		}
	}
	timeout := time.Duration(1800+rand.IntN(1800)) * time.Second
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, badRequest("timeoutSeconds: invalid value %q", v))
			return
		}
		if n > 0 {
			// Beyond what a Duration holds the product overflows (to a negative timeout that
			// ended the watch at once): cap it.
			timeout = time.Duration(min(n, maxSeconds)) * time.Second
		}
	}
	withInitial := q.Get("resourceVersion") == "" || q.Get("resourceVersion") == "0"
	if s.cached(req.res) && s.serveCachedWatch(w, r, req, sel, from, withInitial, timeout) {
		return
	}
	if withInitial {
		objs, rev, err := s.listObjects(ctx, req.res, req.namespace)
		if err != nil {
			writeError(w, err)
			return
		}
		initial, from = filter(req.res, objs, sel), rev
	}
	events, err := s.store.Watch(ctx, listPrefix(req.res, req.namespace), from)
	ws := newWatchStream(w, r, req, s)
	if err != nil {
		if errors.Is(err, store.ErrCompacted) {
			ws.sendError(s.tooOld(ctx, from))
			return
		}
		writeError(w, storeError(err, req.gr(), ""))
		return
	}
	ws.start()
	for _, obj := range initial {
		if !ws.send(watch.Added, obj) {
			return
		}
	}
	bookmarks := q.Get("allowWatchBookmarks") == "true"
	if bookmarks && q.Get("sendInitialEvents") == "true" {
		ws.bookmark(from, true)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	last := from
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case <-tick.C:
			if bookmarks && !ws.bookmark(last, false) {
				return
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Type == store.Error {
				ws.sendError(storeError(ev.Err, req.gr(), ""))
				return
			}
			last = ev.Revision
			typ, obj, err := s.translate(req.res, sel, ev)
			if err != nil {
				ws.sendError(apierrors.NewInternalError(err))
				return
			}
			if obj != nil && !ws.send(typ, obj) {
				return
			}
		}
	}
}

// translate turns a store event into a watch event for a selector: an object that starts to
// match is ADDED, one that stops matching is DELETED, as in Kubernetes.
func (s *Server) translate(res *registry.Resource, sel *selection, ev store.Event) (watch.EventType, runtime.Object, error) {
	var cur, prev runtime.Object
	var err error
	if ev.Value != nil {
		if cur, err = decodeObject(res, ev.Value, ev.Revision); err != nil {
			return "", nil, err
		}
	}
	if ev.PrevValue != nil {
		if prev, err = decodeObject(res, ev.PrevValue, ev.Revision); err != nil {
			return "", nil, err
		}
	}
	if ev.Type == store.Delete {
		if prev != nil && sel.matches(res, prev) {
			return watch.Deleted, prev, nil
		}
		return "", nil, nil
	}
	now := cur != nil && sel.matches(res, cur)
	before := prev != nil && sel.matches(res, prev)
	switch {
	case now && before:
		return watch.Modified, cur, nil
	case now:
		return watch.Added, cur, nil
	case before:
		return watch.Deleted, cur, nil
	}
	return "", nil, nil
}

// tooOld is Kubernetes' answer to a watch from a revision no longer held: 410 Expired.
func (s *Server) tooOld(ctx context.Context, from int64) error {
	return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", from, s.currentRevision(ctx)))
}

func (s *Server) currentRevision(ctx context.Context) int64 {
	rev, _ := s.store.Revision(ctx)
	return rev
}

// watchStream writes WatchEvents, flushing after each.
type watchStream struct {
	w     http.ResponseWriter
	fl    http.Flusher
	req   *request
	out   output
	s     *Server
	begun bool
}

func newWatchStream(w http.ResponseWriter, r *http.Request, req *request, s *Server) *watchStream {
	fl, _ := w.(http.Flusher)
	return &watchStream{w: w, fl: fl, req: req, out: negotiate(r), s: s}
}

func (ws *watchStream) start() {
	if ws.begun {
		return
	}
	ws.begun = true
	ws.w.Header().Set("Content-Type", "application/json")
	ws.w.Header().Set("Transfer-Encoding", "chunked")
	ws.w.WriteHeader(http.StatusOK)
	if ws.fl != nil {
		ws.fl.Flush()
	}
}

func (ws *watchStream) send(typ watch.EventType, obj runtime.Object) bool {
	var payload interface{} = obj
	if ws.out.table {
		t, err := tableFor(ws.req.res, []runtime.Object{obj}, ws.out)
		if err != nil {
			return false
		}
		t.ResourceVersion = accessor(obj).GetResourceVersion()
		payload = t
	}
	return ws.write(typ, payload)
}

func (ws *watchStream) write(typ watch.EventType, payload interface{}) bool {
	raw, err := json.Marshal(payload)
	if err != nil {
		return false
	}
	b, err := json.Marshal(&metav1.WatchEvent{Type: string(typ), Object: runtime.RawExtension{Raw: raw}})
	if err != nil {
		return false
	}
	ws.start()
	if _, err := ws.w.Write(append(b, '\n')); err != nil {
		return false
	}
	if ws.fl != nil {
		ws.fl.Flush()
	}
	return true
}

// bookmark sends a BOOKMARK carrying only the resourceVersion (and, after the initial events of
// a sendInitialEvents watch, the k8s.io/initial-events-end annotation).
func (ws *watchStream) bookmark(rev int64, initialEnd bool) bool {
	obj := ws.req.res.New()
	m := accessor(obj)
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	if initialEnd {
		m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	}
	obj.GetObjectKind().SetGroupVersionKind(ws.req.res.GroupVersionKind())
	return ws.write(watch.Bookmark, obj)
}

func (ws *watchStream) sendError(err error) {
	var se apierrors.APIStatus
	st := apierrors.NewInternalError(err).Status()
	if errors.As(err, &se) {
		st = se.Status()
	}
	st.Kind, st.APIVersion = "Status", "v1"
	ws.write(watch.Error, &st)
}
