package apiserver

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/drover-ci/drover/cluster/apiserver/watchcache"
	"github.com/drover-ci/drover/cluster/registry"
)

// WatchCache configures the API server's watch cache (the zero value: on, with
// watchcache's defaults).
type WatchCache struct {
	// Disabled serves every list and watch from the store.
	Disabled bool
	// History is the events kept per resource (watch resumption, paged lists' continue).
	History int
	// WatcherBuffer is the events a watcher may fall behind before it is closed.
	WatcherBuffer int
	// BookmarkInterval is how often bookmark-allowing watchers get a BOOKMARK (1 minute).
	BookmarkInterval time.Duration
	// CompactInterval is how often the cache's history is compacted to the revision of the
	// round before, as kube-apiserver's --etcd-compaction-interval (5 minutes; negative:
	// never): older continue tokens and watch revisions are answered 410.
	CompactInterval time.Duration
	// ConsistentReadsFromStore serves consistent lists (resourceVersion unset), their continue
	// tokens and watches without a resourceVersion from the store, as Kubernetes does when
	// its storage has no progress notifications: for a store whose Revision need not be the
	// revision of an event its watches deliver (Consul: a list's revision is INDEX<<16|0xffff),
	// so the cache could not tell that it has caught up.
	ConsistentReadsFromStore bool
}

// nodeNameField is the field the pod cache indexes watchers by (the node agents' watch).
const nodeNameField = "spec.nodeName"

// newCacher builds the watch cache over every stored resource kept in its own version (a
// resource that is a view of another version's storage is served from the store).
func (s *Server) newCacher(cfg WatchCache) *watchcache.Cacher {
	var resources []watchcache.Resource
	s.cachedRes = map[*registry.Resource]bool{}
	for _, res := range s.resources.All() {
		if !res.Stored() || res.Storage != nil {
			continue
		}
		res := res
		wr := watchcache.Resource{Prefix: listPrefix(res, ""), Namespaced: res.Namespaced,
			Decode: func(value []byte, rev int64) (runtime.Object, error) { return decodeObject(res, value, rev) }}
		if res.Group == "" && res.Resource == "pods" && res.Fields != nil {
			wr.Index = func(obj runtime.Object) string { return res.Fields(obj)[nodeNameField] }
		}
		resources = append(resources, wr)
		s.cachedRes[res] = true
	}
	return watchcache.New(watchcache.Config{Store: s.store, Resources: resources, History: cfg.History,
		WatcherBuffer: cfg.WatcherBuffer, BookmarkInterval: cfg.BookmarkInterval, CompactInterval: cfg.CompactInterval, Logger: s.log})
}

// cached reports whether res's lists and watches may be served from the cache.
func (s *Server) cached(res *registry.Resource) bool {
	return s.cache != nil && s.cachedRes[res]
}

// serveCachedWatch serves a watch from the cache. It returns false (having written nothing)
// when the store is to serve it: the cache not ready while it starts. A resourceVersion older
// than the cache's history is answered 410 Expired, as Kubernetes' cacher. Once the cache
// has been ready, a watch it cannot serve now (re-initialising after losing its store watch, or
// behind the store) is answered 429 "storage is (re)initializing" with Retry-After: 1, as
// Kubernetes' cacher does: sending every such watch to the store gives each its own store
// watcher and event buffer, which at thousands of node agents re-watching at once took the
// server from 2 GB to 19 GB (the density test's 2,000-node step).
func (s *Server) serveCachedWatch(w http.ResponseWriter, r *http.Request, req *request, sel *selection, from int64, initial bool, timeout time.Duration) bool {
	ctx := r.Context()
	q := r.URL.Query()
	if initial && q.Get("resourceVersion") == "" && s.consistentFromStore {
		return false
	}
	if s.cache.Reinitializing() {
		writeError(w, reinitializing())
		return true
	}
	var err error
	if initial && q.Get("resourceVersion") == "" {
		// A consistent start: the cache must have what the store has.
		err = s.cache.WaitStoreFresh(ctx)
	} else {
		err = s.cache.WaitFresh(ctx, 0)
	}
	if err != nil {
		if ctx.Err() == nil && s.cache.Initialized() {
			writeError(w, reinitializing())
			return true
		}
		return false // starting: the store serves
	}
	if initial {
		from = 0
	}
	opts := watchcache.WatchOptions{Prefix: listPrefix(req.res, ""), Namespace: req.namespace, From: from,
		Bookmarks: q.Get("allowWatchBookmarks") == "true"}
	if !req.res.Namespaced {
		opts.Namespace = ""
	}
	if v, ok := podNode(req, sel); ok {
		opts.Indexed, opts.Index = true, v
	}
	wt, items, rev, err := s.cache.Watch(opts)
	if errors.Is(err, watchcache.ErrTooOld) {
		// As Kubernetes' cacher: a resume from before the cache's history is told to re-list
		// (an ERROR event, 410 Expired), not served from the store, where each such watch
		// decoded every event again for itself (13 % of a server's CPU at 2,000 nodes).
		ws := newWatchStream(w, r, req, s)
		ws.sendError(s.tooOld(ctx, from))
		return true
	}
	if err != nil {
		return false
	}
	defer wt.Stop()
	ws := newWatchStream(w, r, req, s)
	ws.start()
	for _, e := range items {
		if sel.matches(req.res, e.Object) && !ws.sendEntry(watch.Added, e) {
			return true
		}
	}
	if opts.Bookmarks && q.Get("sendInitialEvents") == "true" && !ws.bookmark(rev, true) {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ev, ok := wt.Next(ctx)
		if !ok {
			return true
		}
		if ev.Type == watchcache.Bookmark {
			if !ws.bookmark(ev.Revision, false) {
				return true
			}
			continue
		}
		typ, e := translateCached(req.res, sel, ev)
		if e != nil && !ws.sendEntry(typ, e) {
			return true
		}
	}
}

// podNode is the node a pod list or watch selects by spec.nodeName=X, the key of the cache's
// node index (ok false for other resources and selectors).
func podNode(req *request, sel *selection) (node string, ok bool) {
	if req.res.Group != "" || req.res.Resource != "pods" {
		return "", false
	}
	return sel.fields.RequiresExactMatch(nodeNameField)
}

// translateCached is translate for a cached event: an object that starts to match is ADDED,
// one that stops matching is DELETED, as in Kubernetes.
func translateCached(res *registry.Resource, sel *selection, ev *watchcache.Event) (watch.EventType, *watchcache.Entry) {
	if ev.Type == watchcache.Delete {
		if sel.matches(res, ev.Object.Object) {
			return watch.Deleted, ev.Object
		}
		return "", nil
	}
	now := sel.matches(res, ev.Object.Object)
	before := ev.Prev != nil && sel.matches(res, ev.Prev.Object)
	switch {
	case now && before:
		return watch.Modified, ev.Object
	case now:
		return watch.Added, ev.Object
	case before:
		return watch.Deleted, ev.Object
	}
	return "", nil
}

// sendEntry writes one event with the entry's shared JSON (a Table is built per watcher).
func (ws *watchStream) sendEntry(typ watch.EventType, e *watchcache.Entry) bool {
	if ws.out.table {
		return ws.send(typ, e.Object)
	}
	raw, err := e.JSON()
	if err != nil {
		return false
	}
	line := make([]byte, 0, len(raw)+32)
	line = append(line, `{"type":"`...)
	line = append(line, typ...)
	line = append(line, `","object":`...)
	line = append(line, raw...)
	line = append(line, "}\n"...)
	ws.start()
	if _, err := ws.w.Write(line); err != nil {
		return false
	}
	if ws.fl != nil {
		ws.fl.Flush()
	}
	return true
}

// reinitializing is the answer to a watch or list the watch cache would serve but cannot now
// (Kubernetes' cacher's words).
func reinitializing() error {
	return apierrors.NewTooManyRequests("storage is (re)initializing", 1)
}

// serveCachedList serves a list from the cache. It returns false (having written nothing)
// when the store must answer instead.
func (s *Server) serveCachedList(w http.ResponseWriter, r *http.Request, req *request, sel *selection, o *listOptions) bool {
	ctx := r.Context()
	resPrefix := listPrefix(req.res, "")
	if s.consistentFromStore && (o.rv == "" || o.cont != "") {
		return false
	}
	var at int64 // 0: the newest the cache has
	limit := o.limit
	switch {
	case o.cont != "":
		if o.contRV > 0 {
			if s.cache.WaitFresh(ctx, o.contRV) != nil {
				return false
			}
			at = o.contRV
		} else if s.cache.WaitStoreFresh(ctx) != nil {
			return false
		}
	case o.rv == "":
		if s.cache.WaitStoreFresh(ctx) != nil {
			return false
		}
	case o.rv == "0":
		limit = 0 // as Kubernetes' cacher: resourceVersion=0 lists ignore limit
		// A list any cache may serve waits for this one (429, as Kubernetes' cacher) rather
		// than load the store once the cache has been ready; see serveCachedWatch.
		if s.cache.Reinitializing() {
			writeError(w, reinitializing())
			return true
		}
		if s.cache.WaitFresh(ctx, 0) != nil {
			if ctx.Err() == nil && s.cache.Initialized() {
				writeError(w, reinitializing())
				return true
			}
			return false
		}
	default:
		if s.cache.WaitFresh(ctx, o.rvNum) != nil {
			return false
		}
		if o.exact() {
			at = o.rvNum
		}
	}
	entries, rev, err := s.cache.List(resPrefix, listPrefix(req.res, req.namespace), o.startKey, at)
	switch {
	case errors.Is(err, watchcache.ErrTooOld) && o.cont != "":
		writeError(w, continueExpired(o.startKey, resPrefix))
		return true
	case errors.Is(err, watchcache.ErrTooOld):
		writeError(w, apierrors.NewResourceExpired(listExpired))
		return true
	case err != nil:
		return false
	}
	everything := sel.labels.Empty() && sel.fields.Empty()
	if !everything {
		// A node agent's re-list selects spec.nodeName=X: the entry's index (its node) rules
		// out the other nodes' pods before the full match builds each pod's field set — with
		// thousands of nodes re-listing tens of thousands of pods that was most of the server's
		// CPU.
		node, byNode := podNode(req, sel)
		matched := entries[:0:0]
		for _, e := range entries {
			if byNode && e.Index != node {
				continue
			}
			if sel.matches(req.res, e.Object) {
				matched = append(matched, e)
			}
		}
		entries = matched
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	n, pm, err := page(keys, limit, resPrefix, rev, everything)
	if err != nil {
		writeError(w, err)
		return true
	}
	s.writeEntries(w, r, req, entries[:n], rev, pm)
	return true
}

// writeEntries answers with a list of cached entries: JSON is streamed from each entry's
// shared encoding; a Table or YAML is built from the objects.
func (s *Server) writeEntries(w http.ResponseWriter, r *http.Request, req *request, entries []*watchcache.Entry, rev int64, pm pageMeta) {
	if out := negotiate(r); out.table || out.yaml {
		objs := make([]runtime.Object, len(entries))
		for i, e := range entries {
			objs[i] = e.Object
		}
		s.writePage(w, r, req, objs, rev, pm)
		return
	}
	raws := make([][]byte, len(entries))
	for i, e := range entries {
		raw, err := e.JSON()
		if err != nil {
			writeError(w, err)
			return
		}
		raws[i] = raw
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString(`{"kind":` + strconv.Quote(req.res.ListKind) + `,"apiVersion":` + strconv.Quote(req.res.GroupVersion().String()) +
		`,"metadata":{"resourceVersion":"` + strconv.FormatInt(rev, 10) + `"`)
	if pm.cont != "" {
		bw.WriteString(`,"continue":` + strconv.Quote(pm.cont))
	}
	if pm.remaining != nil {
		bw.WriteString(`,"remainingItemCount":` + strconv.FormatInt(*pm.remaining, 10))
	}
	bw.WriteString(`},"items":[`)
	for i, raw := range raws {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(raw)
	}
	bw.WriteString("]}\n")
	_ = bw.Flush()
}
