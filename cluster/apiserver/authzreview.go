package apiserver

import (
	"context"
	"net/http"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
)

// serveAuthorizationReview handles the authorization.k8s.io reviews, answered from the
// server's authorizer chain as kube-apiserver does: SelfSubjectAccessReview (`kubectl auth
// can-i`), SubjectAccessReview, LocalSubjectAccessReview and SelfSubjectRulesReview (`kubectl
// auth can-i --list`).
func (s *Server) serveAuthorizationReview(w http.ResponseWriter, r *http.Request, req *request) {
	if req.subresource != "" || req.verb != "create" {
		writeError(w, apierrors.NewMethodNotSupported(req.gr(), methodVerb(r, req)))
		return
	}
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := decodeBody(w, r, data, req.res.GroupVersionKind(), req.res.New)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	u, _ := genericrequest.UserFrom(ctx)
	gk := req.res.GroupVersionKind().GroupKind()
	spec := field.NewPath("spec")
	var out runtime.Object
	switch b := body.(type) {
	case *authorizationv1.SelfSubjectAccessReview:
		errs := validateAttributes(b.Spec.ResourceAttributes, b.Spec.NonResourceAttributes, spec)
		if len(errs) > 0 {
			writeError(w, apierrors.NewInvalid(gk, "", errs))
			return
		}
		b.Status = s.review(ctx, attributesFrom(u, b.Spec.ResourceAttributes, b.Spec.NonResourceAttributes))
		out = b
	case *authorizationv1.SubjectAccessReview:
		errs := validateAttributes(b.Spec.ResourceAttributes, b.Spec.NonResourceAttributes, spec)
		if b.Spec.User == "" && len(b.Spec.Groups) == 0 {
			errs = append(errs, field.Invalid(spec.Child("user"), b.Spec.User, "at least one of user or group must be specified"))
		}
		if len(errs) > 0 {
			writeError(w, apierrors.NewInvalid(gk, "", errs))
			return
		}
		b.Status = s.review(ctx, attributesFrom(reviewedUser(b.Spec), b.Spec.ResourceAttributes, b.Spec.NonResourceAttributes))
		out = b
	case *authorizationv1.LocalSubjectAccessReview:
		if b.Spec.ResourceAttributes != nil && b.Spec.ResourceAttributes.Namespace != req.namespace {
			writeError(w, apierrors.NewBadRequest("spec.resourceAttributes.namespace must match namespace: "+req.namespace))
			return
		}
		errs := validateAttributes(b.Spec.ResourceAttributes, b.Spec.NonResourceAttributes, spec)
		if b.Spec.User == "" && len(b.Spec.Groups) == 0 {
			errs = append(errs, field.Invalid(spec.Child("user"), b.Spec.User, "at least one of user or group must be specified"))
		}
		if b.Spec.NonResourceAttributes != nil {
			errs = append(errs, field.Invalid(spec.Child("nonResourceAttributes"), b.Spec.NonResourceAttributes, "disallowed on this kind of request"))
		}
		if len(errs) > 0 {
			writeError(w, apierrors.NewInvalid(gk, "", errs))
			return
		}
		b.Namespace = req.namespace
		b.Status = s.review(ctx, attributesFrom(reviewedUser(b.Spec), b.Spec.ResourceAttributes, nil))
		out = b
	case *authorizationv1.SelfSubjectRulesReview:
		if b.Spec.Namespace == "" {
			writeError(w, apierrors.NewBadRequest("no namespace on request"))
			return
		}
		res, non, incomplete, err := s.rules.RulesFor(ctx, u, b.Spec.Namespace)
		b.Status = authorizationv1.SubjectRulesReviewStatus{ResourceRules: resourceRules(res), NonResourceRules: nonResourceRules(non), Incomplete: incomplete}
		if err != nil {
			b.Status.EvaluationError = err.Error()
		}
		out = b
	}
	accessor(out).SetCreationTimestamp(metav1.Time{})
	out.GetObjectKind().SetGroupVersionKind(req.res.GroupVersionKind())
	writeJSON(w, http.StatusCreated, out)
}

// review asks the authorizer chain, as kube-apiserver's access review storage.
func (s *Server) review(ctx context.Context, a authorizer.Attributes) authorizationv1.SubjectAccessReviewStatus {
	d, reason, err := s.authz.Authorize(ctx, a)
	st := authorizationv1.SubjectAccessReviewStatus{Allowed: d == authorizer.DecisionAllow, Denied: d == authorizer.DecisionDeny, Reason: reason}
	if err != nil {
		st.EvaluationError = err.Error()
	}
	return st
}

// validateAttributes: exactly one of resourceAttributes and nonResourceAttributes.
func validateAttributes(res *authorizationv1.ResourceAttributes, non *authorizationv1.NonResourceAttributes, spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	if res == nil && non == nil {
		errs = append(errs, field.Required(spec.Child("resourceAttributes"), "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
	}
	if res != nil && non != nil {
		errs = append(errs, field.Invalid(spec.Child("nonResourceAttributes"), non, "cannot be specified in combination with resourceAttributes"))
	}
	return errs
}

func reviewedUser(spec authorizationv1.SubjectAccessReviewSpec) user.Info {
	extra := map[string][]string{}
	for k, v := range spec.Extra {
		extra[k] = v
	}
	return &user.DefaultInfo{Name: spec.User, Groups: spec.Groups, UID: spec.UID, Extra: extra}
}

// attributesFrom is kube-apiserver's ResourceAttributesFrom / NonResourceAttributesFrom (an
// empty version matches all).
func attributesFrom(u user.Info, res *authorizationv1.ResourceAttributes, non *authorizationv1.NonResourceAttributes) authorizer.Attributes {
	if res != nil {
		version := res.Version
		if version == "" {
			version = "*"
		}
		return authorizer.AttributesRecord{User: u, Verb: res.Verb, Namespace: res.Namespace, APIGroup: res.Group, APIVersion: version,
			Resource: res.Resource, Subresource: res.Subresource, Name: res.Name, ResourceRequest: true}
	}
	return authorizer.AttributesRecord{User: u, Verb: non.Verb, Path: non.Path}
}

func resourceRules(in []authorizer.ResourceRuleInfo) []authorizationv1.ResourceRule {
	out := []authorizationv1.ResourceRule{}
	for _, r := range in {
		out = append(out, authorizationv1.ResourceRule{Verbs: r.GetVerbs(), APIGroups: r.GetAPIGroups(), Resources: r.GetResources(), ResourceNames: r.GetResourceNames()})
	}
	return out
}

func nonResourceRules(in []authorizer.NonResourceRuleInfo) []authorizationv1.NonResourceRule {
	out := []authorizationv1.NonResourceRule{}
	for _, r := range in {
		out = append(out, authorizationv1.NonResourceRule{Verbs: r.GetVerbs(), NonResourceURLs: r.GetNonResourceURLs()})
	}
	return out
}
