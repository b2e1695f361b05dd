package registry

import (
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// AuthenticationGroup is authentication.k8s.io: TokenReview and SelfSubjectReview, computed by
// the API server from its authenticators, never stored.
const AuthenticationGroup = "authentication.k8s.io"

// CreateOnlyVerbs are the verbs of the review resources.
var CreateOnlyVerbs = []string{"create"}

// tokenReviewResource describes authentication.k8s.io/v1 tokenreviews.
func tokenReviewResource() *Resource {
	return &Resource{
		Group: AuthenticationGroup, Version: "v1", Resource: "tokenreviews", Kind: "TokenReview", SingularName: "tokenreview",
		Verbs:   CreateOnlyVerbs,
		New:     func() runtime.Object { return &authenticationv1.TokenReview{} },
		NewList: func() runtime.Object { return &authenticationv1.TokenReview{} },
	}
}

// selfSubjectReviewResource describes authentication.k8s.io/v1 selfsubjectreviews (`kubectl
// auth whoami`).
func selfSubjectReviewResource() *Resource {
	return &Resource{
		Group: AuthenticationGroup, Version: "v1", Resource: "selfsubjectreviews", Kind: "SelfSubjectReview", SingularName: "selfsubjectreview",
		Verbs:   CreateOnlyVerbs,
		New:     func() runtime.Object { return &authenticationv1.SelfSubjectReview{} },
		NewList: func() runtime.Object { return &authenticationv1.SelfSubjectReview{} },
	}
}
