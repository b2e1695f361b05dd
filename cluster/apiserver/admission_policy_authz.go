package apiserver

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/drover-ci/drover/cluster/rbac"
	"github.com/drover-ci/drover/cluster/registry"
)

// authorizePolicyParams is the check Kubernetes' policy and binding strategies add to their
// validation (pkg/registry/admissionregistration/validatingadmissionpolicy/authz.go and
// validatingadmissionpolicybinding/authz.go): a policy's paramKind needs `get` on every
// object of that kind, and a binding's paramRef `get` on the object it names (`list` for a
// selector) of its policy's paramKind, so that nobody reads through a policy's messages what
// they may not read themselves. system:masters and internal writes pass; a policy's update
// is checked when its paramKind changes, a binding's whenever it has a paramRef. The refusal is a Forbidden field
// error, a 422, as upstream.
func (s *Server) authorizePolicyParams(ctx context.Context, res *registry.Resource, obj, old runtime.Object) error {
	if res.Group != registry.AdmissionRegistrationGroup {
		return nil
	}
	u, ok := genericrequest.UserFrom(ctx)
	if !ok || rbac.EscalationAllowed(u) || s.authz == nil {
		return nil
	}
	var attrs authorizer.AttributesRecord
	var p *field.Path
	var name string
	var deny func() string
	switch o := obj.(type) {
	case *admissionregistrationv1.ValidatingAdmissionPolicy:
		pk := o.Spec.ParamKind
		if pk == nil {
			return nil
		}
		if prev, _ := old.(*admissionregistrationv1.ValidatingAdmissionPolicy); prev != nil && prev.Spec.ParamKind != nil && *prev.Spec.ParamKind == *pk {
			return nil
		}
		name, p = o.Name, field.NewPath("spec", "paramKind")
		attrs = s.paramAttributes(pk)
		attrs.Verb, attrs.Name, attrs.Namespace = "get", "*", "*"
		deny = func() string {
			return fmt.Sprintf(`user %v must have "get" permission on all objects of the referenced paramKind (kind=%s, apiVersion=%s)`, u, pk.Kind, pk.APIVersion)
		}
	case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
		ref := o.Spec.ParamRef
		if ref == nil {
			return nil
		}
		// Upstream skips an update whose paramRef and policy name are unchanged, but compares
		// the paramRefs with ==, which takes parameterNotFoundAction (always set) by pointer:
		// every update of a binding with a paramRef is checked, here as there.
		name, p = o.Name, field.NewPath("spec", "paramRef")
		attrs = authorizer.AttributesRecord{APIGroup: "*", APIVersion: "*", Resource: "*"}
		if obj, _, err := s.getObject(ctx, s.lookup(admissionregistrationv1.SchemeGroupVersion.WithResource("validatingadmissionpolicies")), "", o.Spec.PolicyName); err == nil {
			if pk := obj.(*admissionregistrationv1.ValidatingAdmissionPolicy).Spec.ParamKind; pk != nil {
				attrs = s.paramAttributes(pk)
			}
		}
		attrs.Verb, attrs.Name, attrs.Namespace = "get", ref.Name, ref.Namespace
		if ref.Name == "" {
			attrs.Verb = "list"
		}
		deny = func() string {
			// Upstream's message, its arguments swapped as there.
			return fmt.Sprintf(`user %v does not have "%v" permission on the object referenced by paramRef`, attrs.Verb, u)
		}
	default:
		return nil
	}
	attrs.User, attrs.ResourceRequest = u, true
	d, _, err := s.authz.Authorize(ctx, attrs)
	if err != nil {
		return invalid(res.Kind, name, res.Group, field.ErrorList{field.Forbidden(p, err.Error())})
	}
	if d != authorizer.DecisionAllow {
		return invalid(res.Kind, name, res.Group, field.ErrorList{field.Forbidden(p, deny())})
	}
	return nil
}

// paramAttributes is the group, version and resource of a paramKind: "*" for what does not
// parse or resolve (upstream's resource resolver, here the served resources).
func (s *Server) paramAttributes(pk *admissionregistrationv1.ParamKind) authorizer.AttributesRecord {
	a := authorizer.AttributesRecord{APIGroup: "*", APIVersion: "*", Resource: "*"}
	gv, err := schema.ParseGroupVersion(pk.APIVersion)
	if err != nil {
		return a
	}
	a.APIGroup, a.APIVersion = gv.Group, gv.Version
	for _, r := range s.resources.All() {
		if r.GroupVersionKind() == gv.WithKind(pk.Kind) {
			a.Resource = r.Resource
			break
		}
	}
	return a
}
