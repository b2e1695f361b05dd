package endpointslice

import (
	"context"
	"log/slog"
	"maps"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// MirroringControllerName is the managed-by label value of mirrored slices.
const MirroringControllerName = "endpointslicemirroring-controller.k8s.io"

// MaxEndpointsPerMirroredSlice is Kubernetes' default --mirroring-max-endpoints-per-subset.
const MaxEndpointsPerMirroredSlice = 1000

// Mirroring is Kubernetes' EndpointSlice mirroring controller: the Endpoints of a Service
// without a selector (written by hand or by another controller) are mirrored into
// EndpointSlices managed by endpointslicemirroring-controller.k8s.io and owned by the
// Endpoints, unless the Endpoints carry endpointslice.kubernetes.io/skip-mirror=true. The
// slices go when the Endpoints or the Service go, or the Service gets a selector.
type Mirroring struct {
	services  corelisters.ServiceLister
	endpoints corelisters.EndpointsLister
	slices    discoverylisters.EndpointSliceLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	writer    writer
	workers   int
	log       *slog.Logger
}

// NewMirroring builds the mirroring controller from the manager's context.
func NewMirroring(cc controller.Context) (*Mirroring, error) {
	svcInf := cc.Informers.Core().V1().Services()
	epInf := cc.Informers.Core().V1().Endpoints()
	esInf := cc.Informers.Discovery().V1().EndpointSlices()
	var clk clock.PassiveClock = clock.RealClock{}
	if cc.Clock != nil {
		clk = cc.Clock
	}
	m := &Mirroring{
		services: svcInf.Lister(), endpoints: epInf.Lister(), slices: esInf.Lister(),
		synced:  []cache.InformerSynced{svcInf.Informer().HasSynced, epInf.Informer().HasSynced, esInf.Informer().HasSynced},
		queue:   workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		writer:  writer{client: cc.Client, expect: controller.NewExpectations(clk), clock: clk},
		workers: cc.Options.WithDefaults().Workers, log: cc.LoggerOrDiscard(),
	}
	enqueue := func(obj interface{}) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			m.queue.Add(key)
		}
	}
	handlers := cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, n interface{}) { enqueue(n) }, DeleteFunc: enqueue}
	if _, err := svcInf.Informer().AddEventHandler(handlers); err != nil {
		return nil, err
	}
	if _, err := epInf.Informer().AddEventHandler(handlers); err != nil {
		return nil, err
	}
	if _, err := esInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { m.sliceChanged(obj, sliceAdded) },
		UpdateFunc: func(_, n interface{}) { m.sliceChanged(n, sliceUpdated) },
		DeleteFunc: func(obj interface{}) { m.sliceChanged(obj, sliceDeleted) },
	}); err != nil {
		return nil, err
	}
	return m, nil
}

// Name is "endpointslicemirroring".
func (m *Mirroring) Name() string { return "endpointslicemirroring" }

// Run works until ctx ends.
func (m *Mirroring) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, m.log, m.queue, m.synced, m.workers, controller.NoRequeue(m.sync))
}

func (m *Mirroring) sliceChanged(obj interface{}, ev sliceEvent) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || es.Labels[discoveryv1.LabelManagedBy] != MirroringControllerName || es.Labels[discoveryv1.LabelServiceName] == "" {
		return
	}
	key := es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]
	switch ev {
	case sliceAdded:
		m.writer.expect.CreationObserved(key)
	case sliceDeleted:
		m.writer.expect.DeletionObserved(key, es.Name)
	}
	m.queue.Add(key)
}

// sync mirrors the Endpoints of one Service name, or removes their mirrored slices.
func (m *Mirroring) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: MirroringControllerName})
	existing, err := m.slices.EndpointSlices(ns).List(sel)
	if err != nil {
		return err
	}
	if !m.writer.expect.Satisfied(key) {
		return nil
	}
	svc, svcErr := m.services.Services(ns).Get(name)
	ep, epErr := m.endpoints.Endpoints(ns).Get(name)
	for _, e := range []error{svcErr, epErr} {
		if e != nil && !apierrors.IsNotFound(e) {
			return e
		}
	}
	if svcErr != nil || epErr != nil || svc.Spec.Selector != nil || ep.Labels[discoveryv1.LabelSkipMirror] == "true" {
		if len(existing) == 0 {
			m.writer.expect.Forget(key)
			return nil
		}
		return m.writer.reconcile(ctx, target{key: key, namespace: ns, name: name}, nil, existing)
	}
	lbls := map[string]string{}
	for k, v := range ep.Labels {
		if k != discoveryv1.LabelManagedBy && k != discoveryv1.LabelServiceName {
			lbls[k] = v
		}
	}
	lbls[discoveryv1.LabelServiceName], lbls[discoveryv1.LabelManagedBy] = name, MirroringControllerName
	ann := maps.Clone(ep.Annotations)
	delete(ann, corev1.EndpointsLastChangeTriggerTime)
	delete(ann, corev1.LastAppliedConfigAnnotation)
	t := target{key: key, namespace: ns, name: name, labels: lbls, annotations: ann, max: MaxEndpointsPerMirroredSlice,
		owner: *metav1.NewControllerRef(ep, corev1.SchemeGroupVersion.WithKind("Endpoints"))}
	return m.writer.reconcile(ctx, t, Mirrored(ep, MaxEndpointsPerMirroredSlice), existing)
}

// Mirrored is the slices of an Endpoints object as Kubernetes' mirroring controller makes them:
// one set per distinct port list, IPv4 addresses only (addresses ready, notReadyAddresses not),
// at most max endpoints a slice. Empty Endpoints make no slice.
func Mirrored(ep *corev1.Endpoints, max int) []Slice {
	groups := map[string]*Slice{}
	for _, ss := range ep.Subsets {
		var ports []discoveryv1.EndpointPort
		for _, p := range ss.Ports {
			name, num, proto := p.Name, p.Port, p.Protocol
			ports = append(ports, discoveryv1.EndpointPort{Name: &name, Port: &num, Protocol: &proto, AppProtocol: p.AppProtocol})
		}
		k := portsKey(ports)
		g := groups[k]
		if g == nil {
			g = &Slice{Ports: ports}
			groups[k] = g
		}
		add := func(addrs []corev1.EndpointAddress, ready bool) {
			for _, a := range addrs {
				if ip, err := netip.ParseAddr(a.IP); err != nil || !ip.Is4() {
					continue
				}
				r := ready
				e := discoveryv1.Endpoint{Addresses: []string{a.IP}, Conditions: discoveryv1.EndpointConditions{Ready: &r}, TargetRef: a.TargetRef, NodeName: a.NodeName}
				if a.Hostname != "" {
					h := a.Hostname
					e.Hostname = &h
				}
				g.Endpoints = append(g.Endpoints, e)
			}
		}
		add(ss.Addresses, true)
		add(ss.NotReadyAddresses, false)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Slice
	for _, k := range keys {
		g := groups[k]
		for start := 0; start < len(g.Endpoints); start += max {
			end := min(start+max, len(g.Endpoints))
			out = append(out, Slice{Ports: g.Ports, Endpoints: g.Endpoints[start:end:end]})
		}
	}
	return out
}
