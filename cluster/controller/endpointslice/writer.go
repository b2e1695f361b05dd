package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
// (managed-by included) and annotations every slice carries, and the controlling owner.
type target struct {
	key, namespace, name string
	labels, annotations  map[string]string
	owner                metav1.OwnerReference
}

// reconcile turns the existing slices into the wanted ones: a slice of the same ports is
// updated in place, missing ones are created, the rest deleted (slices of another owner, e.g.
// an earlier Service of the same name, among them).
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
	var create, update []*discoveryv1.EndpointSlice
	for _, s := range want {
		k := portsKey(s.Ports)
		if cands := byPorts[k]; len(cands) > 0 {
			cur := cands[0]
			byPorts[k] = cands[1:]
			if next := w.updated(t, cur, s); next != nil {
				update = append(update, next)
			}
			continue
		}
		create = append(create, w.newSlice(t, s))
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
