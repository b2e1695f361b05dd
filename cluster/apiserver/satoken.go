package apiserver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/satoken"
)

var (
	secretsGVR         = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	serviceAccountsGVR = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	tokenRequestGVK    = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")
)

// TokenRequest limits, as Kubernetes has them: at least 10 minutes, 1 hour when not asked.
const (
	minTokenSeconds     = 600
	defaultTokenSeconds = 3600
)

// lookup is a resource drover always serves (pods, secrets, serviceaccounts).
func (s *Server) lookup(gvr schema.GroupVersionResource) *registry.Resource {
	res, ok := s.resources.Lookup(gvr)
	if !ok {
		panic(fmt.Sprintf("apiserver: %s is not served", gvr))
	}
	return res
}

// serviceAccountUser checks a ServiceAccount token against audiences and the objects it names
// (Kubernetes' service account authenticator and its validators).
func (s *Server) serviceAccountUser(ctx context.Context, tok string, audiences []string) (user.Info, error) {
	now := s.now()
	c, err := s.signer.Verify(tok, now, audiences)
	if errors.Is(err, satoken.ErrNotOurs) {
		return nil, errUnknownToken
	}
	if err != nil {
		return nil, err
	}
	if c.Issuer == satoken.LegacyIssuer {
		return s.legacyUser(ctx, c, tok)
	}
	k := c.Kubernetes
	ns := k.Namespace
	if _, err := s.liveObject(ctx, serviceAccountsGVR, ns, k.ServiceAccount.Name, k.ServiceAccount.UID, now); err != nil {
		return nil, err
	}
	extra := map[string][]string{}
	if k.Pod != nil {
		if _, err := s.liveObject(ctx, podsGVR, ns, k.Pod.Name, k.Pod.UID, now); err != nil {
			return nil, err
		}
		extra["authentication.kubernetes.io/pod-name"] = []string{k.Pod.Name}
		extra["authentication.kubernetes.io/pod-uid"] = []string{k.Pod.UID}
	}
	if k.Secret != nil {
		if _, err := s.liveObject(ctx, secretsGVR, ns, k.Secret.Name, k.Secret.UID, now); err != nil {
			return nil, err
		}
	}
	if c.ID != "" {
		extra["authentication.kubernetes.io/credential-id"] = []string{"JTI=" + c.ID}
	}
	return &user.DefaultInfo{Name: c.Subject, UID: k.ServiceAccount.UID, Groups: satoken.Groups(ns), Extra: extra}, nil
}

// legacyUser checks a Secret's token: the Secret still holds it and its ServiceAccount exists.
func (s *Server) legacyUser(ctx context.Context, c *satoken.Claims, tok string) (user.Info, error) {
	now := s.now()
	obj, err := s.liveObject(ctx, secretsGVR, c.LegacyNamespace, c.LegacySecret, "", now)
	if err != nil {
		return nil, err
	}
	if sec := obj.(*corev1.Secret); string(sec.Data[corev1.ServiceAccountTokenKey]) != tok {
		return nil, fmt.Errorf("token does not match the one in secret %s/%s", c.LegacyNamespace, c.LegacySecret)
	}
	if _, err := s.liveObject(ctx, serviceAccountsGVR, c.LegacyNamespace, c.LegacyName, c.LegacyUID, now); err != nil {
		return nil, err
	}
	return &user.DefaultInfo{Name: c.Subject, UID: c.LegacyUID, Groups: satoken.Groups(c.LegacyNamespace)}, nil
}

// liveObject reads an object a token names: it must exist, have uid (when given) and not be
// past its deletion.
func (s *Server) liveObject(ctx context.Context, gvr schema.GroupVersionResource, ns, name, uid string, now time.Time) (runtime.Object, error) {
	obj, _, err := s.getObject(ctx, s.lookup(gvr), ns, name)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", gvr.Resource, ns, name, err)
	}
	m := accessor(obj)
	if uid != "" && string(m.GetUID()) != uid {
		return nil, fmt.Errorf("%s %s/%s: uid %s, token names %s", gvr.Resource, ns, name, m.GetUID(), uid)
	}
	if d := m.GetDeletionTimestamp(); d != nil && d.Time.Before(now) {
		return nil, fmt.Errorf("%s %s/%s is being deleted", gvr.Resource, ns, name)
	}
	return obj, nil
}

// serveTokenRequest handles POST serviceaccounts/NAME/token (Kubernetes' TokenREST).
func (s *Server) serveTokenRequest(w http.ResponseWriter, r *http.Request, req *request) {
	gr := schema.GroupResource{Resource: "serviceaccounts/token"}
	if req.verb != "create" {
		writeError(w, apierrors.NewMethodNotSupported(gr, r.Method))
		return
	}
	if s.signer == nil {
		writeError(w, apierrors.NewServiceUnavailable("service account token signing is off"))
		return
	}
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := decodeBody(w, r, data, tokenRequestGVK, func() runtime.Object { return &authenticationv1.TokenRequest{} })
	if err != nil {
		writeError(w, err)
		return
	}
	treq := body.(*authenticationv1.TokenRequest)
	bound := ""
	if ref := treq.Spec.BoundObjectRef; ref != nil && ref.Kind == "Pod" {
		bound = ref.Name
	}
	if err := s.admitNodeTokenRequest(r.Context(), req.namespace, req.name, bound); err != nil {
		writeError(w, err)
		return
	}
	tr, err := s.issueToken(r.Context(), req.namespace, req.name, treq)
	if err != nil {
		writeError(w, err)
		return
	}
	tr.APIVersion, tr.Kind = tokenRequestGVK.GroupVersion().String(), tokenRequestGVK.Kind
	writeJSON(w, http.StatusCreated, tr)
}

// issueToken signs the token a TokenRequest asks for.
func (s *Server) issueToken(ctx context.Context, ns, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	if tr.Spec.ExpirationSeconds == nil {
		tr.Spec.ExpirationSeconds = ptrTo(int64(defaultTokenSeconds))
	}
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if e := *tr.Spec.ExpirationSeconds; e < minTokenSeconds {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), e, "may not specify a duration less than 10 minutes"))
	} else if e > math.MaxUint32 {
		errs = append(errs, field.TooLong(spec.Child("expirationSeconds"), e, math.MaxUint32))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(tokenRequestGVK.GroupKind(), "", errs)
	}
	obj, _, err := s.getObject(ctx, s.lookup(serviceAccountsGVR), ns, name)
	if err != nil {
		return nil, err
	}
	sa := obj.(*corev1.ServiceAccount)
	if len(tr.Spec.Audiences) == 0 {
		tr.Spec.Audiences = slices.Clone(s.audiences)
	}
	now := s.now()
	b := satoken.Bound{Namespace: ns, Name: name, UID: string(sa.UID), Audiences: tr.Spec.Audiences, Now: now,
		Expiration: time.Duration(*tr.Spec.ExpirationSeconds) * time.Second, ID: string(uuid.NewUUID())}
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		if err := s.bindToken(ctx, &b, sa, ref); err != nil {
			return nil, err
		}
	}
	tok, err := s.signer.Sign(b)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	out := &authenticationv1.TokenRequest{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, CreationTimestamp: metav1.NewTime(now)},
		Spec: tr.Spec, Status: authenticationv1.TokenRequestStatus{Token: tok, ExpirationTimestamp: metav1.NewTime(now.Add(b.Expiration))}}
	return out, nil
}

// bindToken checks a TokenRequest's boundObjectRef (a Pod or a Secret of the namespace) and
// records it in the token.
func (s *Server) bindToken(ctx context.Context, b *satoken.Bound, sa *corev1.ServiceAccount, ref *authenticationv1.BoundObjectReference) error {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	gvk := gv.WithKind(ref.Kind)
	var gvr schema.GroupVersionResource
	switch {
	case gvk.Group == "" && gvk.Kind == "Pod":
		gvr = podsGVR
	case gvk.Group == "" && gvk.Kind == "Secret":
		gvr = secretsGVR
	default:
		return apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", gvk.String()))
	}
	obj, _, err := s.getObject(ctx, s.lookup(gvr), sa.Namespace, ref.Name)
	if err != nil {
		return err
	}
	m := accessor(obj)
	if ref.UID != "" && ref.UID != m.GetUID() {
		return apierrors.NewConflict(schema.GroupResource{Resource: gvr.Resource}, ref.Name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	r := &satoken.Ref{Name: m.GetName(), UID: string(m.GetUID())}
	if pod, ok := obj.(*corev1.Pod); ok {
		if pod.Spec.ServiceAccountName != sa.Name {
			return apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", sa.Name))
		}
		b.Pod = r
	} else {
		b.Secret = r
	}
	ref.UID = types.UID(r.UID)
	return nil
}

// serveAuthentication handles the authentication.k8s.io reviews: TokenReview (is this token
// valid, and whose is it) and SelfSubjectReview (who am I: `kubectl auth whoami`).
func (s *Server) serveAuthentication(w http.ResponseWriter, r *http.Request, req *request) {
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
	var out runtime.Object
	switch b := body.(type) {
	case *authenticationv1.SelfSubjectReview:
		u, _ := genericrequest.UserFrom(r.Context())
		b.Status.UserInfo = userInfo(u)
		b.CreationTimestamp = metav1.NewTime(s.now())
		out = b
	case *authenticationv1.TokenReview:
		if b.Spec.Token == "" {
			writeError(w, apierrors.NewInvalid(req.res.GroupVersionKind().GroupKind(), "",
				field.ErrorList{field.Required(field.NewPath("spec", "token"), "")}))
			return
		}
		s.reviewToken(r.Context(), b)
		out = b
	}
	gvk := req.res.GroupVersionKind()
	out.GetObjectKind().SetGroupVersionKind(gvk)
	writeJSON(w, http.StatusCreated, out)
}

// reviewToken fills a TokenReview's status.
func (s *Server) reviewToken(ctx context.Context, tr *authenticationv1.TokenReview) {
	audiences := tr.Spec.Audiences
	if len(audiences) == 0 {
		audiences = s.audiences
	}
	var u user.Info
	var err error
	if s.signer != nil {
		u, err = s.serviceAccountUser(ctx, tr.Spec.Token, audiences)
	}
	if s.signer == nil || errors.Is(err, errUnknownToken) {
		// The static tokens are for the API server's own audience only.
		if u, err = s.authenticateToken(ctx, tr.Spec.Token); err == nil && len(tr.Spec.Audiences) > 0 && !intersects(tr.Spec.Audiences, s.audiences) {
			u, err = nil, errors.New("token audiences are invalid")
		}
	}
	if err != nil {
		tr.Status = authenticationv1.TokenReviewStatus{Error: "[invalid bearer token, " + err.Error() + "]"}
		return
	}
	tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: userInfo(u), Audiences: audiences}
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// userInfo is u as the authentication API writes it.
func userInfo(u user.Info) authenticationv1.UserInfo {
	if u == nil {
		return authenticationv1.UserInfo{}
	}
	out := authenticationv1.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
	if ex := u.GetExtra(); len(ex) > 0 {
		out.Extra = map[string]authenticationv1.ExtraValue{}
		for k, v := range ex {
			out.Extra[k] = v
		}
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

// fillLegacyToken fills a new kubernetes.io/service-account-token Secret whose ServiceAccount
// (annotation kubernetes.io/service-account.name) exists, as Kubernetes' tokens controller
// does: data token (a never-expiring legacy JWT), ca.crt and namespace, and the annotation
// kubernetes.io/service-account.uid. drover does it when the Secret is created rather than
// just after; a Secret whose ServiceAccount does not exist stays empty (Kubernetes deletes it).
func (s *Server) fillLegacyToken(ctx context.Context, sec *corev1.Secret) error {
	name := sec.Annotations[corev1.ServiceAccountNameKey]
	if s.signer == nil || name == "" || len(sec.Data[corev1.ServiceAccountTokenKey]) > 0 {
		return nil
	}
	obj, _, err := s.getObject(ctx, s.lookup(serviceAccountsGVR), sec.Namespace, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sa := obj.(*corev1.ServiceAccount)
	if uid := sec.Annotations[corev1.ServiceAccountUIDKey]; uid != "" && uid != string(sa.UID) {
		return nil
	}
	tok, err := s.signer.SignLegacy(sec.Namespace, name, string(sa.UID), sec.Name)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	sec.Annotations[corev1.ServiceAccountUIDKey] = string(sa.UID)
	if sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	sec.Data[corev1.ServiceAccountTokenKey] = []byte(tok)
	sec.Data[corev1.ServiceAccountNamespaceKey] = []byte(sec.Namespace)
	if len(s.rootCA) > 0 {
		sec.Data[corev1.ServiceAccountRootCAKey] = s.rootCA
	}
	return nil
}
