package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// writer turns a Service's existing slices into the wanted ones; the EndpointSlice and the
// mirroring controllers share it.
type writer struct {
	client kubernetes.Interface
	expect *controller.Expectations
	clock  clock.PassiveClock
}

// target is whose slices a reconcile writes: the queue key (namespace/service), the labels
// (managed-by included) and annotations every slice carries, the controlling owner, and at most
// how many endpoints a slice holds.
type target struct {
	key, namespace, name string
	labels, annotations  map[string]string
	owner                metav1.OwnerReference
	max                  int
}

// reconcile turns the existing slices into the wanted ones, moving as little as it can, as
// Kubernetes' reconciler does: an endpoint still wanted stays in the slice that holds it
// (updated there when its conditions changed), new endpoints fill the slices of the same ports
// that have room before new slices are made, slices left empty are deleted, and so are slices
// of ports no longer wanted and slices of another owner (an earlier Service of the same name).
// A want of one slice without endpoints (Desired's placeholder) keeps or makes one empty slice.
// Endpoints never move between slices, so no write in between shows an endpoint in no slice
// or in two.
func (w *writer) reconcile(ctx context.Context, t target, want []Slice, existing []*discoveryv1.EndpointSlice) error {
	byPorts := map[string][]*discoveryv1.EndpointSlice{}
	var remove []*discoveryv1.EndpointSlice
	for _, es := range existing {
		if !ownedBy(es, t.owner) || es.AddressType != discoveryv1.AddressTypeIPv4 {
			remove = append(remove, es)
			continue
		}
		k := portsKey(es.Ports)
		byPorts[k] = append(byPorts[k], es)
	}
	// The wanted endpoints by ports, in want's order.
	var keys []string
	groups := map[string]*Slice{}
	for _, s := range want {
		k := portsKey(s.Ports)
		g := groups[k]
		if g == nil {
			g = &Slice{Ports: s.Ports}
			groups[k] = g
			keys = append(keys, k)
		}
		g.Endpoints = append(g.Endpoints, s.Endpoints...)
	}
	var create, update []*discoveryv1.EndpointSlice
	for _, k := range keys {
		cands := byPorts[k]
		delete(byPorts, k)
		sort.Slice(cands, func(i, j int) bool { return cands[i].Name < cands[j].Name })
		placed := place(groups[k].Endpoints, cands, t.max)
		if len(placed) == 0 {
			placed = [][]discoveryv1.Endpoint{nil} // the placeholder
		}
		for i, eps := range placed {
			if i >= len(cands) {
				create = append(create, w.newSlice(t, Slice{Ports: groups[k].Ports, Endpoints: eps}))
				continue
			}
			if len(eps) == 0 && (len(groups[k].Endpoints) > 0 || i > 0) {
				remove = append(remove, cands[i])
				continue
			}
			if next := w.updated(t, cands[i], Slice{Ports: groups[k].Ports, Endpoints: eps}); next != nil {
				update = append(update, next)
			}
		}
	}
	for _, rest := range byPorts {
		remove = append(remove, rest...)
	}
	var deleting []string
	for _, es := range remove {
		deleting = append(deleting, es.Name)
	}
	w.expect.Expect(t.key, len(create), deleting)
	var errs []error
	api := w.client.DiscoveryV1().EndpointSlices(t.namespace)
	for _, es := range update {
		if _, err := api.Update(ctx, es, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("update endpointslice %s: %w", es.Name, err))
		}
	}
	for _, es := range create {
		if _, err := api.Create(ctx, es, metav1.CreateOptions{}); err != nil {
			w.expect.CreationObserved(t.key)
			errs = append(errs, fmt.Errorf("create endpointslice for %s: %w", t.key, err))
		}
	}
	for _, es := range remove {
		err := api.Delete(ctx, es.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &es.UID}})
		if err != nil {
			w.expect.DeletionObserved(t.key, es.Name)
			if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				errs = append(errs, fmt.Errorf("delete endpointslice %s: %w", es.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// updated returns cur changed to s and t's labels and annotations, or nil when it already is.
func (w *writer) updated(t target, cur *discoveryv1.EndpointSlice, s Slice) *discoveryv1.EndpointSlice {
	annotated := true
	for k, v := range t.annotations {
		if cur.Annotations[k] != v {
			annotated = false
		}
	}
	if apiequality.Semantic.DeepEqual(cur.Endpoints, s.Endpoints) && apiequality.Semantic.DeepEqual(cur.Ports, s.Ports) &&
		apiequality.Semantic.DeepEqual(cur.Labels, t.labels) && annotated {
		return nil
	}
	next := cur.DeepCopy()
	next.Endpoints, next.Ports, next.Labels = s.Endpoints, s.Ports, maps.Clone(t.labels)
	if next.Annotations == nil {
		next.Annotations = map[string]string{}
	}
	maps.Copy(next.Annotations, t.annotations)
	next.Annotations[corev1.EndpointsLastChangeTriggerTime] = w.clock.Now().UTC().Format(time.RFC3339)
	return next
}

// newSlice is a new slice of t holding s, named from the Service as Kubernetes does
// (generateName "<service>-").
func (w *writer) newSlice(t target, s Slice) *discoveryv1.EndpointSlice {
	prefix := t.name + "-"
	if len(prefix) > 58 {
		prefix = prefix[:58]
	}
	ann := maps.Clone(t.annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[corev1.EndpointsLastChangeTriggerTime] = w.clock.Now().UTC().Format(time.RFC3339)
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    prefix,
			Namespace:       t.namespace,
			Labels:          maps.Clone(t.labels),
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{t.owner},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   s.Endpoints,
		Ports:       s.Ports,
	}
}

func ownedBy(es *discoveryv1.EndpointSlice, owner metav1.OwnerReference) bool {
	for _, o := range es.OwnerReferences {
		if o.UID == owner.UID && o.Kind == owner.Kind && o.APIVersion == owner.APIVersion {
			return true
		}
	}
	return false
}

// place spreads the wanted endpoints of one port list over the existing slices (by name) and
// new ones: out[i] for i < len(existing) is what existing[i] holds next (empty: delete it, or
// keep it as the placeholder when nothing is wanted), the rest are new slices of at most max.
// An endpoint is known by its address and target; one already in a slice stays there.
func place(want []discoveryv1.Endpoint, existing []*discoveryv1.EndpointSlice, max int) [][]discoveryv1.Endpoint {
	if max <= 0 {
		max = MaxEndpointsPerSlice
	}
	at := map[string][]int{} // endpoint identity -> indexes into want not yet placed
	for i, ep := range want {
		k := endpointKey(ep)
		at[k] = append(at[k], i)
	}
	placed := make([]bool, len(want))
	out := make([][]discoveryv1.Endpoint, len(existing))
	for i, es := range existing {
		for _, ep := range es.Endpoints {
			k := endpointKey(ep)
			idx := at[k]
			if len(idx) == 0 || len(out[i]) >= max {
				continue
			}
			at[k] = idx[1:]
			placed[idx[0]] = true
			out[i] = append(out[i], want[idx[0]])
		}
	}
	// The rest fill slices with room, first those that change anyway, then new slices.
	var rest []discoveryv1.Endpoint
	for i, ep := range want {
		if !placed[i] {
			rest = append(rest, ep)
		}
	}
	changing := func(i int) bool { return !apiequality.Semantic.DeepEqual(out[i], existing[i].Endpoints) }
	for _, pass := range []bool{true, false} {
		for i := range existing {
			if len(rest) == 0 || changing(i) != pass {
				continue
			}
			n := min(max-len(out[i]), len(rest))
			if n > 0 {
				out[i] = append(out[i], rest[:n]...)
				rest = rest[n:]
			}
		}
	}
	for len(rest) > 0 {
		n := min(max, len(rest))
		out = append(out, rest[:n:n])
		rest = rest[n:]
	}
	return out
}

func endpointKey(ep discoveryv1.Endpoint) string {
	k := strings.Join(ep.Addresses, ",")
	if r := ep.TargetRef; r != nil {
		k += "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
	}
	return k
}
