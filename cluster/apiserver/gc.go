package apiserver

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"

	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// The collector is the API server's garbage collector and namespace finalizer. It follows every
// change in the store, indexes ownerReferences by owner uid, and
//   - deletes dependents whose owners are all gone (background propagation),
//   - deletes the dependents of an owner held by the foregroundDeletion finalizer, then
//     removes the finalizer,
//   - strips the ownerReference from dependents of an owner held by the orphan finalizer, then
//     removes the finalizer,
//   - empties a Terminating namespace and then removes it.
//
// Everything it does goes through the same create/update/remove paths as API requests.
type collector struct {
	s     *Server
	queue workqueue.TypedRateLimitingInterface[gcItem]

	// byKey maps a key prefix "group/resource/" to its resource; replaced when the custom
	// resources change, which also signals changed so that follow lists again.
	byKey   atomic.Pointer[map[string]*registry.Resource]
	changed chan struct{}

	mu         sync.Mutex
	uids       map[types.UID]string          // live object uid → key
	owners     map[string][]types.UID        // key → owner uids
	dependents map[types.UID]map[string]bool // owner uid → dependent keys
	openNS     map[string]bool               // namespaces that exist and are not terminating
}

type gcItem struct {
	kind string // "dependent", "owner", "namespace"
	key  string
}

func newCollector(s *Server) *collector {
	c := &collector{s: s, changed: make(chan struct{}, 1)}
	c.setKeys()
	c.reset()
	return c
}

func (c *collector) setKeys() {
	m := map[string]*registry.Resource{}
	for _, r := range c.s.resources.All() {
		if r.Stored() && r.Storage == nil { // a view's keys are its stored version's
			m[groupKey(r)+"/"+r.Resource+"/"] = r
		}
	}
	c.byKey.Store(&m)
}

func (c *collector) keys() map[string]*registry.Resource { return *c.byKey.Load() }

// resourcesChanged takes in the served resources again (the custom ones changed) and has the
// collector list everything again, the new resources' objects included.
func (c *collector) resourcesChanged() {
	c.setKeys()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// errResourcesChanged ends follow when the served resources change.
var errResourcesChanged = errors.New("the served resources changed")

func (c *collector) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uids = map[types.UID]string{}
	c.owners = map[string][]types.UID{}
	c.dependents = map[types.UID]map[string]bool{}
	c.openNS = map[string]bool{}
}

// namespaceOpen reports whether the index has seen namespace ns existing and not terminating.
// false means "unknown": the caller asks the store.
func (c *collector) namespaceOpen(ns string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.openNS[ns]
}

// namespaceClosed drops ns from the open set at once when the server marks it Terminating, so
// that creates do not slip in before the collector's watch sees the change.
func (c *collector) namespaceClosed(ns string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.openNS, ns)
}

// run follows the store until ctx ends, rebuilding its index whenever its watch breaks.
func (c *collector) run(ctx context.Context) {
	c.queue = workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[gcItem](100*time.Millisecond, 10*time.Second))
	go func() { <-ctx.Done(); c.queue.ShutDown() }()
	go c.work(ctx)
	for ctx.Err() == nil {
		err := c.follow(ctx)
		if errors.Is(err, errResourcesChanged) {
			continue
		}
		if err != nil && ctx.Err() == nil {
			c.s.log.Warn("garbage collector: watch ended, re-listing", "err", err)
			time.Sleep(time.Second)
		}
	}
}

// follow lists everything, then applies watch events until the watch fails.
func (c *collector) follow(ctx context.Context) error {
	rev, err := c.s.store.Revision(ctx)
	if err != nil {
		return err
	}
	select { // the list below sees the current resources
	case <-c.changed:
	default:
	}
	c.reset()
	for prefix := range c.keys() {
		kvs, _, err := c.s.store.List(ctx, prefix)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			c.observe(store.Event{Type: store.Put, Key: kv.Key, Value: kv.Value, Revision: kv.Revision, Created: true})
		}
	}
	events, err := c.s.store.Watch(ctx, "", rev)
	if err != nil {
		return err
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return ctx.Err()
			}
			if ev.Type == store.Error {
				return ev.Err
			}
			c.observe(ev)
		case <-c.changed:
			return errResourcesChanged
		}
	}
}

// resourceOf finds the resource a key belongs to.
func (c *collector) resourceOf(key string) *registry.Resource {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) < 3 {
		return nil
	}
	return c.keys()[parts[0]+"/"+parts[1]+"/"]
}

// observe updates the index with one change and queues the work it calls for.
func (c *collector) observe(ev store.Event) {
	res := c.resourceOf(ev.Key)
	if res == nil {
		return
	}
	if ev.Type == store.Delete {
		c.forget(ev.Key, res, ev.PrevValue)
		return
	}
	obj, err := decodeObject(res, ev.Value, ev.Revision)
	if err != nil {
		c.s.log.Warn("garbage collector: undecodable object", "key", ev.Key, "err", err)
		return
	}
	m := accessor(obj)
	var ownerUIDs []types.UID
	for _, ref := range m.GetOwnerReferences() {
		ownerUIDs = append(ownerUIDs, ref.UID)
	}
	c.mu.Lock()
	if res == c.s.namespaces {
		c.openNS[m.GetName()] = m.GetDeletionTimestamp() == nil
	}
	c.uids[m.GetUID()] = ev.Key
	for _, o := range c.owners[ev.Key] {
		delete(c.dependents[o], ev.Key)
	}
	c.owners[ev.Key] = ownerUIDs
	dangling := false
	for _, o := range ownerUIDs {
		if c.dependents[o] == nil {
			c.dependents[o] = map[string]bool{}
		}
		c.dependents[o][ev.Key] = true
		if _, ok := c.uids[o]; !ok {
			dangling = true
		}
	}
	c.mu.Unlock()
	if dangling {
		c.queue.AddAfter(gcItem{"dependent", ev.Key}, time.Second)
	}
	if m.GetDeletionTimestamp() != nil {
		if res == c.s.namespaces {
			c.queue.Add(gcItem{"namespace", ev.Key})
		} else if hasFinalizer(m, finalizerForeground) || hasFinalizer(m, finalizerOrphan) {
			c.queue.Add(gcItem{"owner", ev.Key})
		}
	}
}

// forget drops a deleted object and queues its dependents and waiting owners.
func (c *collector) forget(key string, res *registry.Resource, prev []byte) {
	c.mu.Lock()
	if res == c.s.namespaces {
		_, name := splitKey(res, key)
		delete(c.openNS, name)
	}
	var uid types.UID
	if prev != nil {
		if obj, err := decodeObject(res, prev, 0); err == nil {
			uid = accessor(obj).GetUID()
		}
	}
	if uid == "" {
		for u, k := range c.uids {
			if k == key {
				uid = u
			}
		}
	}
	delete(c.uids, uid)
	var todo []gcItem
	for dep := range c.dependents[uid] {
		todo = append(todo, gcItem{"dependent", dep})
	}
	delete(c.dependents, uid)
	for _, o := range c.owners[key] {
		delete(c.dependents[o], key)
		if ok, exists := c.uids[o]; exists {
			todo = append(todo, gcItem{"owner", ok})
		}
	}
	delete(c.owners, key)
	c.mu.Unlock()
	for _, it := range todo {
		c.queue.Add(it)
	}
}

func (c *collector) work(ctx context.Context) {
	for {
		it, quit := c.queue.Get()
		if quit {
			return
		}
		err := c.process(ctx, it)
		switch {
		case err == nil:
			c.queue.Forget(it)
		case errRequeue(err):
			c.queue.AddAfter(it, time.Second)
		default:
			c.s.log.Warn("garbage collector: retrying", "item", it.key, "err", err)
			c.queue.AddRateLimited(it)
		}
		c.queue.Done(it)
	}
}

// errWaiting asks for the item to be looked at again a little later.
var errWaiting = apierrors.NewServiceUnavailable("waiting for dependents")

func errRequeue(err error) bool { return err == errWaiting }

func (c *collector) process(ctx context.Context, it gcItem) error {
	res := c.resourceOf(it.key)
	if res == nil {
		return nil
	}
	ns, name := splitKey(res, it.key)
	obj, _, err := c.s.getObject(ctx, res, ns, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	switch it.kind {
	case "dependent":
		return c.attemptToDelete(ctx, res, obj)
	case "owner":
		return c.finalizeOwner(ctx, res, obj)
	case "namespace":
		return c.finalizeNamespace(ctx, obj.(*corev1.Namespace))
	}
	return nil
}

func splitKey(res *registry.Resource, key string) (ns, name string) {
	rest := strings.TrimPrefix(key, groupKey(res)+"/"+res.Resource+"/")
	if res.Namespaced {
		ns, name, _ = strings.Cut(rest, "/")
		return ns, name
	}
	return "", rest
}

func hasFinalizer(m metav1.Object, f string) bool {
	for _, x := range m.GetFinalizers() {
		if x == f {
			return true
		}
	}
	return false
}

func (c *collector) dependentKeys(uid types.UID) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.dependents[uid] {
		out = append(out, k)
	}
	return out
}
