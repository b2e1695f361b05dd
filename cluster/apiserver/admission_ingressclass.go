package apiserver

import (
	"context"
	"sort"

	networkingv1 "k8s.io/api/networking/v1"
	networkingv1beta1 "k8s.io/api/networking/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var ingressClassGVR = networkingv1.SchemeGroupVersion.WithResource("ingressclasses")

// admitDefaultIngressClass is Kubernetes' DefaultIngressClass admission for a new Ingress:
// one that names no class (neither spec.ingressClassName nor the deprecated
// kubernetes.io/ingress.class annotation) gets the IngressClass annotated
// ingressclass.kubernetes.io/is-default-class: "true"; of several, the newest (by
// creationTimestamp, then the lowest name). Without a default class the Ingress is left alone.
func (s *Server) admitDefaultIngressClass(ctx context.Context, ing *networkingv1.Ingress) error {
	if ing.Spec.IngressClassName != nil {
		return nil
	}
	if _, ok := ing.Annotations[networkingv1beta1.AnnotationIngressClass]; ok {
		return nil
	}
	res, ok := s.resources.Lookup(ingressClassGVR)
	if !ok {
		return nil
	}
	objs, _, err := s.listObjects(ctx, res, "")
	if err != nil {
		return apierrors.NewForbidden(schema.GroupResource{Group: networkingv1.GroupName, Resource: "ingresses"}, ing.Name, err)
	}
	var defaults []*networkingv1.IngressClass
	for _, o := range objs {
		if ic := o.(*networkingv1.IngressClass); ic.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" {
			defaults = append(defaults, ic)
		}
	}
	if len(defaults) == 0 {
		return nil
	}
	sort.Slice(defaults, func(i, j int) bool {
		a, b := defaults[i].CreationTimestamp.UnixNano(), defaults[j].CreationTimestamp.UnixNano()
		if a == b {
			return defaults[i].Name < defaults[j].Name
		}
		return a > b
	})
	name := defaults[0].Name
	ing.Spec.IngressClassName = &name
	return nil
}
