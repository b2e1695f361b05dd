package apiserver

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
)

// impersonation is one thing a request asks to act as (Impersonate-User, -Group, -Uid,
// -Extra-KEY), as kube-apiserver's impersonation filter lists them.
type impersonation struct {
	kind      string // User, ServiceAccount, Group, UserExtra, UID
	namespace string // ServiceAccount
	name      string // the user, group, uid or extra value
	extraKey  string // UserExtra
}

// impersonations reads r's impersonation headers. Groups, extras or a uid without a user are
// an error, as in Kubernetes.
func impersonations(h http.Header) ([]impersonation, error) {
	var out []impersonation
	requested := h.Get(authenticationv1.ImpersonateUserHeader)
	if requested != "" {
		if ns, name, err := serviceaccount.SplitUsername(requested); err == nil {
			out = append(out, impersonation{kind: "ServiceAccount", namespace: ns, name: name})
		} else {
			out = append(out, impersonation{kind: "User", name: requested})
		}
	}
	others := false
	for _, g := range h[authenticationv1.ImpersonateGroupHeader] {
		others = true
		out = append(out, impersonation{kind: "Group", name: g})
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, authenticationv1.ImpersonateUserExtraHeaderPrefix) {
			continue
		}
		others = true
		key := strings.ToLower(k[len(authenticationv1.ImpersonateUserExtraHeaderPrefix):])
		if un, err := url.PathUnescape(key); err == nil {
			key = un
		}
		for _, v := range h[k] {
			out = append(out, impersonation{kind: "UserExtra", name: v, extraKey: key})
		}
	}
	if uid := h.Get(authenticationv1.ImpersonateUIDHeader); uid != "" {
		others = true
		out = append(out, impersonation{kind: "UID", name: uid})
	}
	if others && requested == "" {
		return nil, fmt.Errorf("requested %v without impersonating a user", describeImpersonations(out))
	}
	return out, nil
}

func describeImpersonations(is []impersonation) string {
	parts := make([]string, len(is))
	for i, im := range is {
		parts[i] = fmt.Sprintf("{%s %s %s}", im.kind, im.namespace, im.name)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// withImpersonation switches the request's user to the one its Impersonate-* headers name,
// after checking that the authenticated user may `impersonate` each of them (users, groups,
// serviceaccounts, uids, userextras/KEY), as kube-apiserver's impersonation filter: 403 with
// its message otherwise. An impersonated ServiceAccount gets its groups unless groups are
// named, and system:authenticated is added.
func (s *Server) withImpersonation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs, err := impersonations(r.Header)
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		if len(reqs) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		requestor, ok := genericrequest.UserFrom(ctx)
		if !ok {
			writeError(w, apierrors.NewInternalError(fmt.Errorf("no user found for request")))
			return
		}
		groupsSpecified := len(r.Header[authenticationv1.ImpersonateGroupHeader]) > 0
		var username, uid string
		groups := []string{}
		extra := map[string][]string{}
		for _, im := range reqs {
			a := &authorizer.AttributesRecord{User: requestor, Verb: "impersonate", Namespace: im.namespace, Name: im.name, ResourceRequest: true}
			switch im.kind {
			case "ServiceAccount":
				a.Resource = "serviceaccounts"
				username = serviceaccount.MakeUsername(im.namespace, im.name)
				if !groupsSpecified {
					groups = serviceaccount.MakeGroupNames(im.namespace)
				}
			case "User":
				a.Resource = "users"
				username = im.name
			case "Group":
				a.Resource = "groups"
				groups = append(groups, im.name)
			case "UserExtra":
				a.APIGroup, a.APIVersion = authenticationv1.GroupName, "v1"
				a.Resource, a.Subresource = "userextras", im.extraKey
				extra[im.extraKey] = append(extra[im.extraKey], im.name)
			case "UID":
				a.APIGroup, a.APIVersion = authenticationv1.GroupName, "v1"
				a.Resource = "uids"
				uid = im.name
			}
			decision, reason, err := s.authz.Authorize(ctx, a)
			if err != nil || decision != authorizer.DecisionAllow {
				s.log.Debug("impersonation forbidden", "user", requestor.GetName(), "as", im.name, "reason", reason, "err", err)
				writeError(w, forbidden(a, reason))
				return
			}
		}
		if username != user.Anonymous {
			if !slices.Contains(groups, user.AllAuthenticated) && !slices.Contains(groups, user.AllUnauthenticated) {
				groups = append(groups, user.AllAuthenticated)
			}
		} else if !slices.Contains(groups, user.AllUnauthenticated) {
			groups = append(groups, user.AllUnauthenticated)
		}
		u := &user.DefaultInfo{Name: username, Groups: groups, Extra: extra, UID: uid}
		r = r.WithContext(genericrequest.WithUser(ctx, u))
		r.Header.Del(authenticationv1.ImpersonateUserHeader)
		r.Header.Del(authenticationv1.ImpersonateGroupHeader)
		r.Header.Del(authenticationv1.ImpersonateUIDHeader)
		for k := range r.Header {
			if strings.HasPrefix(k, authenticationv1.ImpersonateUserExtraHeaderPrefix) {
				r.Header.Del(k)
			}
		}
		s.log.Debug("impersonating", "user", requestor.GetName(), "as", username)
		next.ServeHTTP(w, r)
	})
}
