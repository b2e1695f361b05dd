package registry

import (
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// AuthorizationGroup is authorization.k8s.io: the access reviews, computed by the API server
// from its authorizers, never stored.
const AuthorizationGroup = "authorization.k8s.io"

// selfSubjectAccessReviewResource: may I? (`kubectl auth can-i`).
func selfSubjectAccessReviewResource() *Resource {
	return &Resource{
		Group: AuthorizationGroup, Version: "v1", Resource: "selfsubjectaccessreviews", Kind: "SelfSubjectAccessReview", SingularName: "selfsubjectaccessreview",
		Verbs:   CreateOnlyVerbs,
		New:     func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} },
		NewList: func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} },
	}
}

// selfSubjectRulesReviewResource: what may I do in a namespace (`kubectl auth can-i --list`).
func selfSubjectRulesReviewResource() *Resource {
	return &Resource{
		Group: AuthorizationGroup, Version: "v1", Resource: "selfsubjectrulesreviews", Kind: "SelfSubjectRulesReview", SingularName: "selfsubjectrulesreview",
		Verbs:   CreateOnlyVerbs,
		New:     func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} },
		NewList: func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} },
	}
}

// subjectAccessReviewResource: may this user?
func subjectAccessReviewResource() *Resource {
	return &Resource{
		Group: AuthorizationGroup, Version: "v1", Resource: "subjectaccessreviews", Kind: "SubjectAccessReview", SingularName: "subjectaccessreview",
		Verbs:   CreateOnlyVerbs,
		New:     func() runtime.Object { return &authorizationv1.SubjectAccessReview{} },
		NewList: func() runtime.Object { return &authorizationv1.SubjectAccessReview{} },
	}
}

// localSubjectAccessReviewResource: may this user, in this namespace?
func localSubjectAccessReviewResource() *Resource {
	return &Resource{
		Group: AuthorizationGroup, Version: "v1", Resource: "localsubjectaccessreviews", Kind: "LocalSubjectAccessReview", SingularName: "localsubjectaccessreview",
		Namespaced: true,
		Verbs:      CreateOnlyVerbs,
		New:        func() runtime.Object { return &authorizationv1.LocalSubjectAccessReview{} },
		NewList:    func() runtime.Object { return &authorizationv1.LocalSubjectAccessReview{} },
	}
}
