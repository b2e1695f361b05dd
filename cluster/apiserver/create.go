package apiserver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// create stores a new object in namespace ns after defaults, preparation and validation.
func (s *Server) create(ctx context.Context, res *registry.Resource, ns string, obj runtime.Object, dryRun bool) (runtime.Object, error) {
	m := accessor(obj)
	if res.Namespaced {
		switch {
		case m.GetNamespace() == "":
			m.SetNamespace(ns)
		case ns != "" && m.GetNamespace() != ns:
			return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		m.SetNamespace("")
	}
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	if generated {
		m.SetName(generateName(m.GetGenerateName()))
	}
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(metav1.NewTime(s.now()))
	m.SetResourceVersion("")
	m.SetSelfLink("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetGeneration(1)
	if res.Default != nil {
		res.Default(obj)
	}
	obj = s.fields.trackCreate(ctx, res, obj)
	m = accessor(obj)
	if err := s.admitRBAC(ctx, res, obj, nil); err != nil {
		return nil, err
	}
	if err := s.admitNodeRestriction(ctx, "CREATE", res, "", obj, nil); err != nil {
		return nil, err
	}
	if pod, ok := obj.(*corev1.Pod); ok && res.Group == "" {
		// Admission: the namespace first (NamespaceLifecycle), then ServiceAccount.
		if err := s.checkNamespaceOpen(ctx, pod.Namespace); err != nil {
			return nil, err
		}
		if err := s.admitServiceAccount(ctx, pod); err != nil {
			return nil, err
		}
		// LimitRanger's defaults, before validation (a mutating plugin).
		if err := s.defaultLimits(ctx, pod); err != nil {
			return nil, err
		}
		// Priority: spec.priorityClassName resolved to spec.priority and preemptionPolicy.
		if err := s.admitPriority(ctx, pod); err != nil {
			return nil, err
		}
		if err := s.admitRuntimeClass(ctx, pod); err != nil {
			return nil, err
		}
	}
	if ing, ok := obj.(*networkingv1.Ingress); ok {
		// DefaultIngressClass, a mutating plugin: before validation.
		if err := s.admitDefaultIngressClass(ctx, ing); err != nil {
			return nil, err
		}
	}
	if sec, ok := obj.(*corev1.Secret); ok && res.Group == "" && sec.Type == corev1.SecretTypeServiceAccountToken {
		if err := s.fillLegacyToken(ctx, sec); err != nil {
			return nil, err
		}
	}
	if res.Custom && s.crds.isTerminating(res.GroupVersionResource().GroupResource()) {
		// kube-apiserver's customresource handler: a CRD being deleted takes no new objects.
		err := apierrors.NewMethodNotSupported(res.GroupVersionResource().GroupResource(), "create")
		err.ErrStatus.Message = "create not allowed while custom resource definition is terminating"
		return nil, err
	}
	// Mutating admission webhooks: the last mutating plugins, as in kube-apiserver. The
	// validating ones below see the same attributes, the object as mutated.
	hookAttrs := webhookAttributes(ctx, admission.Create, res, "", obj, nil, &metav1.CreateOptions{}, dryRun)
	managed := m.GetManagedFields()
	if err := s.webhooks.Load().mutate(ctx, hookAttrs); err != nil {
		return nil, err
	}
	keepValidManagedFields(obj, managed)
	if err := pruneMutated(res, obj); err != nil {
		return nil, err
	}
	if res.PrepareForCreate != nil {
		res.PrepareForCreate(obj)
	}
	if res.Requestor != nil {
		u, _ := genericrequest.UserFrom(ctx)
		res.Requestor(obj, u)
	}
	if errs := validateNew(res, obj); len(errs) > 0 {
		return nil, invalid(res.Kind, m.GetName(), res.Group, errs)
	}
	if err := s.authorizePolicyParams(ctx, res, obj, nil); err != nil {
		return nil, err
	}
	if res.Namespaced {
		if err := s.checkNamespaceOpen(ctx, m.GetNamespace()); err != nil {
			return nil, err
		}
	}
	if err := s.validatePriorityClass(ctx, res, "", obj, true); err != nil {
		return nil, err
	}
	if err := s.admitPodSecurity(ctx, res, "", obj, nil); err != nil {
		return nil, err
	}
	if limitRangerApplies(res, "", obj, false) {
		if err := s.admitLimits(ctx, res, obj); err != nil {
			return nil, err
		}
	}
	if err := s.webhooks.Load().validate(ctx, hookAttrs); err != nil {
		return nil, err
	}
	// ResourceQuota last, as in Kubernetes: it charges the object as it will be stored.
	refund, err := s.admitQuota(ctx, res, "", obj, nil, dryRun)
	if err != nil {
		return nil, err
	}
	if dryRun {
		return obj, nil
	}
	for attempt := 0; ; attempt++ {
		undo := func() {}
		if svc, ok := obj.(*corev1.Service); ok && res == s.servicesRes() {
			// Cluster IP and node ports, allocated as Kubernetes does, before the write.
			u, err := s.allocateService(ctx, svc)
			if err != nil {
				return nil, err
			}
			undo = u
		}
		b, err := encodeObject(res, obj)
		if err != nil {
			undo()
			refund()
			return nil, apierrors.NewInternalError(err)
		}
		rev, err := store.CreateWithTTL(ctx, s.store, objectKey(res, m.GetNamespace(), m.GetName()), b, s.ttlOf(res))
		if err != nil {
			undo()
		}
		if errors.Is(err, store.ErrExists) && generated && attempt < 5 {
			m.SetName(generateName(m.GetGenerateName()))
			continue
		}
		if err != nil {
			refund()
			return nil, storeError(err, res.GroupVersionResource().GroupResource(), m.GetName())
		}
		m.SetResourceVersion(fmt.Sprint(rev))
		s.noteRBACWrite(res, obj)
		return obj, nil
	}
}

// validateNew checks metadata and the resource's own rules for a new object.
func validateNew(res *registry.Resource, obj runtime.Object) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaAccessor(accessor(obj), res.Namespaced, nameValidation(res), field.NewPath("metadata"))
	if res.Validate != nil {
		errs = append(errs, res.Validate(obj)...)
	}
	return errs
}

func nameValidation(res *registry.Resource) apivalidation.ValidateNameFunc {
	if res.NameValidation != nil {
		return res.NameValidation
	}
	return apivalidation.NameIsDNSSubdomain
}

// checkNamespaceOpen refuses creation in a namespace that is missing or being deleted.
func (s *Server) checkNamespaceOpen(ctx context.Context, ns string) error {
	if s.gc.namespaceOpen(ns) {
		return nil // the collector's index follows the store; a miss falls back to a read
	}
	obj, _, err := s.getObject(ctx, s.namespaces, "", ns)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return apierrors.NewNotFound(s.namespaces.GroupVersionResource().GroupResource(), ns)
		}
		return err
	}
	if n := obj.(*corev1.Namespace); n.DeletionTimestamp != nil || n.Status.Phase == corev1.NamespaceTerminating {
		return apierrors.NewForbidden(s.namespaces.GroupVersionResource().GroupResource(), ns,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
	}
	return nil
}

const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// generateName appends five random characters to prefix, as Kubernetes does for generateName.
func generateName(prefix string) string {
	const maxLen = 63 - 5
	if len(prefix) > maxLen {
		prefix = prefix[:maxLen]
	}
	b := make([]byte, 5)
	for i := range b {
		b[i] = nameAlphabet[rand.IntN(len(nameAlphabet))]
	}
	return prefix + string(b)
}
