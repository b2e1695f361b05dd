package apiserver

import (
	"context"
	"errors"
	"reflect"
	"strconv"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission"

	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// updateFunc turns the current object into the wanted one; it may return an API error.
type updateFunc func(current runtime.Object) (runtime.Object, error)

// update reads the object, applies fn and writes the result with the read revision as
// precondition. When retry is set a conflict re-reads and re-applies (PATCH and internal
// updates); a PUT carrying its own resourceVersion is checked against it and never retried, a
// PUT without one is unconditional and retried like a PATCH.
func (s *Server) update(ctx context.Context, res *registry.Resource, ns, name, sub string, fn updateFunc, retry, dryRun bool) (runtime.Object, error) {
	gr := res.GroupVersionResource().GroupResource()
	unconditional := false // the first attempt's object carried no resourceVersion
	for attempt := 0; ; attempt++ {
		old, rev, err := s.getObject(ctx, res, ns, name)
		if err != nil {
			return nil, err
		}
		obj, err := fn(old.DeepCopyObject())
		if err != nil {
			return nil, err
		}
		if !apiequality.Semantic.DeepEqual(obj, old) {
			// An unchanged object changes no manager's fields: the merge is skipped.
			obj = s.fields.trackUpdate(ctx, res, sub, obj, old)
		}
		if err := s.admitNodeRestriction(ctx, "UPDATE", res, sub, obj, old); err != nil {
			return nil, err
		}
		admitPriorityUpdate(res, sub, obj, old)
		hookAttrs := webhookAttributes(ctx, admission.Update, res, sub, obj, old, &metav1.UpdateOptions{}, dryRun)
		managed := accessor(obj).GetManagedFields()
		if err := s.webhooks.Load().mutate(ctx, hookAttrs); err != nil {
			return nil, err
		}
		keepValidManagedFields(obj, managed)
		if err := pruneMutated(res, obj); err != nil {
			return nil, err
		}
		m := accessor(obj)
		if attempt == 0 {
			unconditional = m.GetResourceVersion() == ""
		} else if unconditional {
			m.SetResourceVersion("") // fn may hand back the object the last attempt stamped
		}
		if want := m.GetResourceVersion(); want != "" && want != strconv.FormatInt(rev, 10) {
			if _, perr := strconv.ParseInt(want, 10, 64); perr != nil {
				return nil, invalid(res.Kind, name, res.Group, field.ErrorList{field.Invalid(field.NewPath("metadata", "resourceVersion"), want, "must be an integer")})
			}
			return nil, apierrors.NewConflict(gr, name, errors.New(conflictMessage))
		}
		if m.GetResourceVersion() == "" {
			// An update without resourceVersion is unconditional, as Kubernetes allows for
			// every core resource: it applies to the version just read.
			m.SetResourceVersion(strconv.FormatInt(rev, 10))
		}
		if err := s.prepareUpdate(res, sub, obj, old); err != nil {
			return nil, err
		}
		if apiequality.Semantic.DeepEqual(obj, old) {
			return obj, nil // a no-op update keeps the resourceVersion, as in Kubernetes
		}
		if sub == "" {
			if err := s.admitRBAC(ctx, res, obj, old); err != nil {
				return nil, err
			}
			if err := s.authorizePolicyParams(ctx, res, obj, old); err != nil {
				return nil, err
			}
		}
		if err := s.webhooks.Load().validate(ctx, hookAttrs); err != nil {
			return nil, err
		}
		refund, err := s.admitUpdate(ctx, res, sub, obj, old, dryRun)
		if err != nil {
			return nil, err
		}
		if dryRun {
			return obj, nil
		}
		svc, oldSvc := s.serviceUpdate(res, sub, obj, old)
		if svc != nil {
			if _, err := s.allocateService(ctx, svc); err != nil {
				return nil, err
			}
		}
		b, err := encodeObject(res, obj)
		if err == nil {
			var newRev int64
			newRev, err = s.store.Update(ctx, objectKey(res, ns, name), b, rev)
			if err == nil {
				m.SetResourceVersion(strconv.FormatInt(newRev, 10))
			}
		}
		if svc != nil {
			if err != nil {
				s.releaseService(context.WithoutCancel(ctx), svc, oldSvc) // what this attempt took
			} else {
				s.releaseService(ctx, oldSvc, svc) // what the service no longer names
			}
		}
		if err != nil {
			refund()
		}
		// A conflict re-reads and re-applies when the caller asked for it, and for an
		// unconditional PUT, which Kubernetes' GuaranteedUpdate retries until it applies.
		if errors.Is(err, store.ErrConflict) && (retry || unconditional) && attempt < 10 {
			continue
		}
		if err != nil {
			return nil, storeError(err, gr, name)
		}
		newRev := revisionOf(obj)
		if m.GetDeletionTimestamp() != nil && len(m.GetFinalizers()) == 0 && !s.held(res, obj) {
			_, err := s.store.Delete(ctx, objectKey(res, ns, name), newRev)
			if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
				return nil, storeError(err, gr, name)
			}
			if err == nil {
				s.deleted(ctx, res, obj)
			}
		}
		s.noteRBACWrite(res, obj)
		return obj, nil
	}
}

// prepareUpdate keeps what the client may not change, fills defaults, bumps the generation and
// validates. sub is "" for the main resource, "status", "finalize" (namespaces/finalize: only
// spec.finalizers changes), or "binding" (pods/binding: the server itself sets spec.nodeName
// and the PodScheduled condition).
func (s *Server) prepareUpdate(res *registry.Resource, sub string, obj, old runtime.Object) error {
	m, om := accessor(obj), accessor(old)
	if res.Namespaced && m.GetNamespace() == "" {
		m.SetNamespace(om.GetNamespace())
	}
	if m.GetName() != om.GetName() {
		return badRequest("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), om.GetName())
	}
	if m.GetNamespace() != om.GetNamespace() {
		return badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	m.SetUID(om.GetUID())
	m.SetCreationTimestamp(om.GetCreationTimestamp())
	m.SetDeletionTimestamp(om.GetDeletionTimestamp())
	m.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
	m.SetGeneration(om.GetGeneration())
	m.SetSelfLink("")
	switch {
	case sub == "status" || sub == "approval":
		// Spec stays as stored; metadata changes apply, as Kubernetes' status strategies
		// only reset the spec (see Resource.StatusKeepsLabels and PrepareForSubresourceUpdate
		// for the exceptions).
		if res.StatusKeepsLabels {
			m.SetLabels(om.GetLabels())
		}
		copyAllButStatus(obj, old)
	case sub == "finalize":
		// namespaces/finalize changes spec.finalizers only (checked by ValidateUpdate);
		// PrepareForUpdate, which keeps them, is skipped.
		copyStatus(obj, old)
	case sub == "" && res.HasStatus:
		copyStatus(obj, old)
	}
	if res.Default != nil {
		res.Default(obj)
	}
	if sub == "" && res.PrepareForUpdate != nil {
		res.PrepareForUpdate(obj, old)
	}
	if (sub == "status" || sub == "approval" || sub == "ephemeralcontainers") && res.PrepareForSubresourceUpdate != nil {
		res.PrepareForSubresourceUpdate(sub, obj, old)
	}
	if sub == "" && !res.KeepsGeneration && specChanged(obj, old, res.HasStatus) {
		m.SetGeneration(om.GetGeneration() + 1)
	}
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(m, om, field.NewPath("metadata"))
	errs = append(errs, apivalidation.ValidateObjectMetaAccessor(m, res.Namespaced, nameValidation(res), field.NewPath("metadata"))...)
	switch {
	case sub == "status" && res.ValidateStatusUpdate != nil:
		errs = append(errs, res.ValidateStatusUpdate(obj, old)...)
	case (sub == "approval" || sub == "ephemeralcontainers") && res.ValidateSubresourceUpdate != nil:
		errs = append(errs, res.ValidateSubresourceUpdate(sub, obj, old)...)
	case (sub == "" || sub == "finalize") && res.ValidateUpdate != nil:
		errs = append(errs, res.ValidateUpdate(obj, old)...)
	}
	if len(errs) > 0 {
		return invalid(res.Kind, m.GetName(), res.Group, errs)
	}
	return nil
}

// copyStatus sets obj.Status to old.Status (both are pointers to the same struct type).
func copyStatus(obj, old runtime.Object) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		o := old.(*unstructured.Unstructured)
		if st, ok := o.Object["status"]; ok {
			u.Object["status"] = runtime.DeepCopyJSONValue(st)
		} else {
			delete(u.Object, "status")
		}
		return
	}
	dst := reflect.ValueOf(obj).Elem().FieldByName("Status")
	src := reflect.ValueOf(old).Elem().FieldByName("Status")
	if dst.IsValid() && src.IsValid() && dst.CanSet() {
		dst.Set(src)
	}
}

// copyAllButStatus sets every top-level field of obj except TypeMeta, ObjectMeta and Status
// from old.
func copyAllButStatus(obj, old runtime.Object) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		keep := map[string]interface{}{}
		for _, k := range []string{"metadata", "status"} {
			if v, ok := u.Object[k]; ok {
				keep[k] = v
			}
		}
		u.Object = runtime.DeepCopyJSON(old.(*unstructured.Unstructured).Object)
		delete(u.Object, "status")
		for k, v := range keep {
			u.Object[k] = v
		}
		return
	}
	dst, src := reflect.ValueOf(obj).Elem(), reflect.ValueOf(old).Elem()
	for i := 0; i < dst.NumField(); i++ {
		switch dst.Type().Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		dst.Field(i).Set(src.Field(i))
	}
}

// specChanged reports whether anything but metadata and status differs (anything but metadata,
// for a custom resource without the status subresource, whose status is part of its spec).
func specChanged(obj, old runtime.Object, hasStatus bool) bool {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		a, b := map[string]interface{}{}, map[string]interface{}{}
		for k, v := range u.Object {
			a[k] = v
		}
		for k, v := range old.(*unstructured.Unstructured).Object {
			b[k] = v
		}
		for _, m := range []map[string]interface{}{a, b} {
			delete(m, "metadata")
			delete(m, "apiVersion")
			delete(m, "kind")
			if hasStatus {
				delete(m, "status")
			}
		}
		return !apiequality.Semantic.DeepEqual(a, b)
	}
	a, b := reflect.ValueOf(obj).Elem(), reflect.ValueOf(old).Elem()
	for i := 0; i < a.NumField(); i++ {
		switch a.Type().Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if !apiequality.Semantic.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			return true
		}
	}
	return false
}

// replaceWith is an updateFunc for PUT: the body replaces the stored object.
func replaceWith(obj runtime.Object) updateFunc {
	return func(runtime.Object) (runtime.Object, error) { return obj, nil }
}
