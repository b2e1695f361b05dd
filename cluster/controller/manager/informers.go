package manager

import (
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	admissionregistration "k8s.io/client-go/informers/admissionregistration"
	apiserverinternal "k8s.io/client-go/informers/apiserverinternal"
	apps "k8s.io/client-go/informers/apps"
	autoscaling "k8s.io/client-go/informers/autoscaling"
	batch "k8s.io/client-go/informers/batch"
	certificates "k8s.io/client-go/informers/certificates"
	coordination "k8s.io/client-go/informers/coordination"
	core "k8s.io/client-go/informers/core"
	discovery "k8s.io/client-go/informers/discovery"
	events "k8s.io/client-go/informers/events"
	extensions "k8s.io/client-go/informers/extensions"
	flowcontrol "k8s.io/client-go/informers/flowcontrol"
	"k8s.io/client-go/informers/internalinterfaces"
	networking "k8s.io/client-go/informers/networking"
	node "k8s.io/client-go/informers/node"
	policy "k8s.io/client-go/informers/policy"
	rbac "k8s.io/client-go/informers/rbac"
	resource "k8s.io/client-go/informers/resource"
	scheduling "k8s.io/client-go/informers/scheduling"
	storage "k8s.io/client-go/informers/storage"
	storagemigration "k8s.io/client-go/informers/storagemigration"
	"k8s.io/client-go/tools/cache"
)

// termInformers is the informer factory one term's controllers get: the process's factory,
// whose informers outlive the term, with every event handler the controllers add recorded so
// that the term's end removes them (cache.SharedInformer.RemoveEventHandler). A re-elected
// process thus starts its controllers on caches that are already synced: a handler added to a
// running informer is sent the cache's objects as adds, and nothing is listed again (on a
// loaded server, listing 30,000 pods again cost each lost Lease about 50 s of no pod started).
//
// Every group goes through InformerFor/ForResource here, so no handler escapes the record; the
// factory's Start, WaitForCacheSync and Shutdown are the process's.
type termInformers struct {
	informers.SharedInformerFactory

	mu    sync.Mutex
	regs  []registration
	ended bool
}

type registration struct {
	inf cache.SharedIndexInformer
	reg cache.ResourceEventHandlerRegistration
}

func newTermInformers(f informers.SharedInformerFactory) *termInformers {
	return &termInformers{SharedInformerFactory: f}
}

// end removes the handlers the term's controllers added; a handler added later (by a
// controller still returning) is removed at once. It returns the first removal error.
func (t *termInformers) end() error {
	t.mu.Lock()
	regs := t.regs
	t.regs, t.ended = nil, true
	t.mu.Unlock()
	var first error
	for _, r := range regs {
		if err := r.inf.RemoveEventHandler(r.reg); err != nil && first == nil {
			first = fmt.Errorf("removing a term's event handler: %w", err)
		}
	}
	return first
}

func (t *termInformers) record(inf cache.SharedIndexInformer, reg cache.ResourceEventHandlerRegistration) {
	t.mu.Lock()
	ended := t.ended
	if !ended {
		t.regs = append(t.regs, registration{inf, reg})
	}
	t.mu.Unlock()
	if ended {
		_ = inf.RemoveEventHandler(reg)
	}
}

func (t *termInformers) wrap(inf cache.SharedIndexInformer) cache.SharedIndexInformer {
	return &termInformer{SharedIndexInformer: inf, term: t}
}

func (t *termInformers) InformerFor(obj runtime.Object, newFunc internalinterfaces.NewInformerFunc) cache.SharedIndexInformer {
	return t.wrap(t.SharedInformerFactory.InformerFor(obj, newFunc))
}

func (t *termInformers) ForResource(gvr schema.GroupVersionResource) (informers.GenericInformer, error) {
	g, err := t.SharedInformerFactory.ForResource(gvr)
	if err != nil {
		return nil, err
	}
	return &genericInformer{inf: t.wrap(g.Informer()), lister: g.Lister()}, nil
}

type genericInformer struct {
	inf    cache.SharedIndexInformer
	lister cache.GenericLister
}

func (g *genericInformer) Informer() cache.SharedIndexInformer { return g.inf }
func (g *genericInformer) Lister() cache.GenericLister         { return g.lister }

// The groups, built on t so that their informers come through InformerFor (the process's
// factory has no namespace and no list options).

func (t *termInformers) Admissionregistration() admissionregistration.Interface {
	return admissionregistration.New(t, "", nil)
}
func (t *termInformers) Internal() apiserverinternal.Interface {
	return apiserverinternal.New(t, "", nil)
}
func (t *termInformers) Apps() apps.Interface                 { return apps.New(t, "", nil) }
func (t *termInformers) Autoscaling() autoscaling.Interface   { return autoscaling.New(t, "", nil) }
func (t *termInformers) Batch() batch.Interface               { return batch.New(t, "", nil) }
func (t *termInformers) Certificates() certificates.Interface { return certificates.New(t, "", nil) }
func (t *termInformers) Coordination() coordination.Interface { return coordination.New(t, "", nil) }
func (t *termInformers) Core() core.Interface                 { return core.New(t, "", nil) }
func (t *termInformers) Discovery() discovery.Interface       { return discovery.New(t, "", nil) }
func (t *termInformers) Events() events.Interface             { return events.New(t, "", nil) }
func (t *termInformers) Extensions() extensions.Interface     { return extensions.New(t, "", nil) }
func (t *termInformers) Flowcontrol() flowcontrol.Interface   { return flowcontrol.New(t, "", nil) }
func (t *termInformers) Networking() networking.Interface     { return networking.New(t, "", nil) }
func (t *termInformers) Node() node.Interface                 { return node.New(t, "", nil) }
func (t *termInformers) Policy() policy.Interface             { return policy.New(t, "", nil) }
func (t *termInformers) Rbac() rbac.Interface                 { return rbac.New(t, "", nil) }
func (t *termInformers) Resource() resource.Interface         { return resource.New(t, "", nil) }
func (t *termInformers) Scheduling() scheduling.Interface     { return scheduling.New(t, "", nil) }
func (t *termInformers) Storage() storage.Interface           { return storage.New(t, "", nil) }
func (t *termInformers) Storagemigration() storagemigration.Interface {
	return storagemigration.New(t, "", nil)
}

// termInformer records the handlers added through it in its term.
type termInformer struct {
	cache.SharedIndexInformer
	term *termInformers
}

func (i *termInformer) AddEventHandler(h cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error) {
	reg, err := i.SharedIndexInformer.AddEventHandler(h)
	if err == nil {
		i.term.record(i.SharedIndexInformer, reg)
	}
	return reg, err
}

func (i *termInformer) AddEventHandlerWithResyncPeriod(h cache.ResourceEventHandler, resync time.Duration) (cache.ResourceEventHandlerRegistration, error) {
	reg, err := i.SharedIndexInformer.AddEventHandlerWithResyncPeriod(h, resync)
	if err == nil {
		i.term.record(i.SharedIndexInformer, reg)
	}
	return reg, err
}

// AddIndexers adds the indexers the informer does not have yet: a controller of an earlier
// term added those of the same name (the same controller's code), and a second add of a name
// is an error in client-go.
func (i *termInformer) AddIndexers(ix cache.Indexers) error {
	have := i.GetIndexer().GetIndexers()
	add := cache.Indexers{}
	for name, f := range ix {
		if _, ok := have[name]; !ok {
			add[name] = f
		}
	}
	if len(add) == 0 {
		return nil
	}
	return i.SharedIndexInformer.AddIndexers(add)
}
