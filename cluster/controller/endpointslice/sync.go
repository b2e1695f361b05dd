package endpointslice

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// sync writes the EndpointSlices of one service. A deleted Service's slices go with it
// through their ownerReference (the garbage collector), as in Kubernetes.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.writer.expect.Forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil // slices of selector-less services are the user's (or mirrored)
	}
	if !c.writer.expect.Satisfied(key) {
		return nil // the informer has not shown our last creates and deletes yet; it requeues
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: ControllerName})
	existing, err := c.slices.EndpointSlices(ns).List(sel)
	if err != nil {
		return err
	}
	t := target{key: key, namespace: ns, name: svc.Name, labels: sliceLabels(svc), max: c.maxPerSlice,
		owner: *metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))}
	return c.writer.reconcile(ctx, t, Desired(svc, pods, c.maxPerSlice), existing)
}

// sliceLabels are the Service's labels plus the service name and managed-by labels (and the
// headless label for a headless Service), as Kubernetes' setEndpointSliceLabels makes them.
func sliceLabels(svc *corev1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		if k == discoveryv1.LabelServiceName || k == discoveryv1.LabelManagedBy || k == corev1.IsHeadlessService {
			continue
		}
		out[k] = v
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		out[corev1.IsHeadlessService] = ""
	}
	out[discoveryv1.LabelServiceName] = svc.Name
	out[discoveryv1.LabelManagedBy] = ControllerName
	return out
}
