package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/union"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
)

// Authorization modes (--authorization-mode).
const (
	// AuthorizationModeRBAC authorizes with the rbac.authorization.k8s.io objects in the store
	// (and Kubernetes' bootstrap policy): the default.
	AuthorizationModeRBAC = "RBAC"
	// AuthorizationModeAlwaysAllow lets every authenticated request through, as drover did
	// before it had authorization (and as kube-apiserver's AlwaysAllow mode).
	AuthorizationModeAlwaysAllow = "AlwaysAllow"
)

// AuthorizationModes are the accepted values of Config.AuthorizationMode.
func AuthorizationModes() []string {
	return []string{AuthorizationModeRBAC, AuthorizationModeAlwaysAllow}
}

// privilegedGroups allows every request of a member of system:masters, as kube-apiserver's
// privileged-group authorizer before any configured mode: the admin can never lock itself out.
type privilegedGroups struct{}

func (privilegedGroups) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if u := a.GetUser(); u != nil && slices.Contains(u.GetGroups(), user.SystemPrivilegedGroup) {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// RulesFor lists everything for system:masters (SelfSubjectRulesReview).
func (privilegedGroups) RulesFor(_ context.Context, u user.Info, _ string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	if u != nil && slices.Contains(u.GetGroups(), user.SystemPrivilegedGroup) {
		return []authorizer.ResourceRuleInfo{&authorizer.DefaultResourceRuleInfo{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}},
			[]authorizer.NonResourceRuleInfo{&authorizer.DefaultNonResourceRuleInfo{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}}, false, nil
	}
	return nil, nil, false, nil
}

// alwaysAllow is the AlwaysAllow mode.
type alwaysAllow struct{}

func (alwaysAllow) Authorize(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
	return authorizer.DecisionAllow, "", nil
}

func (alwaysAllow) RulesFor(context.Context, user.Info, string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	return []authorizer.ResourceRuleInfo{&authorizer.DefaultResourceRuleInfo{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}},
		[]authorizer.NonResourceRuleInfo{&authorizer.DefaultNonResourceRuleInfo{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}}, false, nil
}

// buildAuthorizer is the chain every request passes: system:masters, cfg.Authorizers in order,
// then the mode's authorizer (mode is the authorizer for AuthorizationModeRBAC, nil for
// AlwaysAllow). The first to allow or deny decides (union.New); no opinion is a denial.
func buildAuthorizer(extra []authorizer.Authorizer, modeName string, mode authorizer.Authorizer) (authorizer.Authorizer, authorizer.RuleResolver, error) {
	chain := []authorizer.Authorizer{privilegedGroups{}}
	chain = append(chain, extra...)
	switch modeName {
	case AuthorizationModeAlwaysAllow:
		chain = append(chain, alwaysAllow{})
	case AuthorizationModeRBAC, "":
		if mode != nil {
			chain = append(chain, mode)
		}
	default:
		return nil, nil, fmt.Errorf("apiserver: unknown authorization mode %q (want one of %s)", modeName, strings.Join(AuthorizationModes(), ", "))
	}
	var resolvers []authorizer.RuleResolver
	for _, a := range chain {
		if rr, ok := a.(authorizer.RuleResolver); ok {
			resolvers = append(resolvers, rr)
		}
	}
	return union.New(chain...), union.NewRuleResolvers(resolvers...), nil
}

// newRequestInfoFactory parses paths as kube-apiserver does (verbs, resources, subresources,
// non-resource paths).
func newRequestInfoFactory() *genericrequest.RequestInfoFactory {
	return &genericrequest.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")}
}

// requestAttributes are the authorizer attributes of r (its user from the context), as
// kube-apiserver's GetAuthorizerAttributes builds them from the RequestInfo.
func (s *Server) requestAttributes(r *http.Request) (*authorizer.AttributesRecord, *genericrequest.RequestInfo, error) {
	info, err := s.requestInfo.NewRequestInfo(r)
	if err != nil {
		return nil, nil, err
	}
	u, _ := genericrequest.UserFrom(r.Context())
	a := &authorizer.AttributesRecord{User: u, ResourceRequest: info.IsResourceRequest, Path: info.Path, Verb: info.Verb}
	if info.IsResourceRequest {
		a.APIGroup, a.APIVersion = info.APIGroup, info.APIVersion
		a.Resource, a.Subresource = info.Resource, info.Subresource
		a.Namespace, a.Name = info.Namespace, info.Name
	}
	return a, info, nil
}

// withAuthorization lets r through only when the authorizer chain allows it; otherwise it
// answers 403 with kube-apiserver's message (500 when an authorizer failed).
func (s *Server) withAuthorization(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, info, err := s.requestAttributes(r)
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		r = r.WithContext(genericrequest.WithRequestInfo(r.Context(), info))
		decision, reason, err := s.authz.Authorize(r.Context(), a)
		if decision == authorizer.DecisionAllow {
			next.ServeHTTP(w, r)
			return
		}
		if err != nil {
			s.log.Warn("authorization failed", "path", r.URL.Path, "err", err)
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		s.log.Debug("forbidden", "user", userName(a.User), "verb", a.Verb, "path", r.URL.Path, "reason", reason)
		writeError(w, forbidden(a, reason))
	})
}

func userName(u user.Info) string {
	if u == nil {
		return ""
	}
	return u.GetName()
}

// forbidden is kube-apiserver's 403 for a request the authorizers did not allow
// (responsewriters.ForbiddenStatusError).
func forbidden(a authorizer.Attributes, reason string) *apierrors.StatusError {
	msg := htmlSanitizer.Replace(forbiddenMessage(a))
	var err error
	if reason == "" {
		err = fmt.Errorf("%s", msg)
	} else {
		err = fmt.Errorf("%s: %s", msg, reason)
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: a.GetAPIGroup(), Resource: a.GetResource()}, a.GetName(), err)
}

// htmlSanitizer keeps error texts from looking like HTML, as kube-apiserver's.
var htmlSanitizer = strings.NewReplacer(`&`, "&amp;", `<`, "&lt;", `>`, "&gt;")

func forbiddenMessage(a authorizer.Attributes) string {
	username := userName(a.GetUser())
	if !a.IsResourceRequest() {
		return fmt.Sprintf("User %q cannot %s path %q", username, a.GetVerb(), a.GetPath())
	}
	resource := a.GetResource()
	if sub := a.GetSubresource(); sub != "" {
		resource += "/" + sub
	}
	if ns := a.GetNamespace(); ns != "" {
		return fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", username, a.GetVerb(), resource, a.GetAPIGroup(), ns)
	}
	return fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", username, a.GetVerb(), resource, a.GetAPIGroup())
}

// withAuthentication puts the user of r's credential in its context, or answers 401.
func (s *Server) withAuthentication(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.authenticate(r)
		if !ok {
			writeError(w, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
		next.ServeHTTP(w, r.WithContext(genericrequest.WithUser(r.Context(), u)))
	})
}

// secured is next behind authentication, impersonation and authorization.
func (s *Server) secured(next http.Handler) http.Handler {
	return s.withAuthentication(s.withImpersonation(s.withAuthorization(next)))
}

// Authorizer is the server's authorizer chain (system:masters, Config.Authorizers, the mode):
// what every request and the access reviews are checked with.
func (s *Server) Authorizer() authorizer.Authorizer { return s.authz }
