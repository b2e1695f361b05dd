package apiserver_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// fakeNow is a clock the test moves.
type fakeNow struct{ offset atomic.Int64 }

func (f *fakeNow) Now() time.Time          { return time.Now().Add(time.Duration(f.offset.Load())) }
func (f *fakeNow) Advance(d time.Duration) { f.offset.Add(int64(d)) }

// asToken is a client of srv that authenticates with tok instead of the admin token.
func asToken(t *testing.T, srv *apiservertest.Server, tok string) kubernetes.Interface {
	t.Helper()
	cfg := rest.AnonymousClientConfig(srv.Config)
	cfg.BearerToken = tok
	return clientFor(t, cfg)
}

func whoami(t *testing.T, cs kubernetes.Interface) (authenticationv1.UserInfo, error) {
	t.Helper()
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(testCtx(t), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return r.Status.UserInfo, nil
}

func tokenFor(t *testing.T, cs kubernetes.Interface, ns, sa string, spec authenticationv1.TokenRequestSpec) *authenticationv1.TokenRequest {
	t.Helper()
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(testCtx(t), sa, &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, sa, err)
	}
	return tr
}

// TestServiceAccountTokens: a TokenRequest's token authenticates as the ServiceAccount (with
// Kubernetes' user name and groups) until it expires, or its bound pod or the ServiceAccount
// is deleted; admin is system:masters; TokenReview tells valid from invalid tokens.
func TestServiceAccountTokens(t *testing.T) {
	t.Parallel()
	clock := &fakeNow{}
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{Now: clock.Now})
	admin := clientFor(t, srv.Config)
	ctx := testCtx(t)
	me, err := whoami(t, admin)
	if err != nil || me.Username != "admin" || !contains(me.Groups, "system:masters") {
		t.Fatalf("admin whoami: %+v, %v", me, err)
	}
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "agent"}, Spec: corev1.PodSpec{ServiceAccountName: "builder",
		Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	pod, err = admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ten := int64(600)
	tr := tokenFor(t, admin, "default", "builder", authenticationv1.TokenRequestSpec{ExpirationSeconds: &ten,
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "agent"}})
	if tr.Status.Token == "" || len(tr.Spec.Audiences) != 1 || tr.Spec.Audiences[0] != "https://kubernetes.default.svc.cluster.local" ||
		tr.Spec.BoundObjectRef.UID != pod.UID {
		t.Fatalf("TokenRequest answer: %+v", tr)
	}
	if d := tr.Status.ExpirationTimestamp.Sub(clock.Now()); d < 590*time.Second || d > 600*time.Second {
		t.Errorf("expirationTimestamp %s from now, want 600 s", d)
	}
	sa := asToken(t, srv, tr.Status.Token)
	me, err = whoami(t, sa)
	if err != nil {
		t.Fatal(err)
	}
	if me.Username != "system:serviceaccount:default:builder" || !contains(me.Groups, "system:serviceaccounts") ||
		!contains(me.Groups, "system:serviceaccounts:default") || me.Extra["authentication.kubernetes.io/pod-name"][0] != "agent" {
		t.Fatalf("service account whoami: %+v", me)
	}
	if _, err := sa.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("the token lists pods: %v", err)
	}
	review, err := admin.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token}}, metav1.CreateOptions{})
	if err != nil || !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:default:builder" {
		t.Fatalf("TokenReview: %+v, %v", review, err)
	}
	review, err = admin.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token, Audiences: []string{"vault"}}}, metav1.CreateOptions{})
	if err != nil || review.Status.Authenticated || review.Status.Error == "" {
		t.Fatalf("TokenReview for another audience: %+v, %v", review, err)
	}
	// Another audience's token is no key to the API server.
	vault := tokenFor(t, admin, "default", "builder", authenticationv1.TokenRequestSpec{Audiences: []string{"vault"}})
	if _, err := whoami(t, asToken(t, srv, vault.Status.Token)); !apierrors.IsUnauthorized(err) {
		t.Fatalf("a token for audience vault: %v, want 401", err)
	}

	// Expiry, on the server's clock.
	clock.Advance(601 * time.Second)
	if _, err := whoami(t, sa); !apierrors.IsUnauthorized(err) {
		t.Fatalf("an expired token: %v, want 401", err)
	}

	// The bound pod deleted (unscheduled: at once) ends its token.
	tr = tokenFor(t, admin, "default", "builder", authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "agent", UID: pod.UID}})
	sa = asToken(t, srv, tr.Status.Token)
	if _, err := whoami(t, sa); err != nil {
		t.Fatal(err)
	}
	if err := admin.CoreV1().Pods("default").Delete(ctx, "agent", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := whoami(t, sa); !apierrors.IsUnauthorized(err) {
		t.Fatalf("a token of a deleted pod: %v, want 401", err)
	}
	// So does a recreated ServiceAccount (a new uid).
	tr = tokenFor(t, admin, "default", "builder", authenticationv1.TokenRequestSpec{})
	if err := admin.CoreV1().ServiceAccounts("default").Delete(ctx, "builder", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := whoami(t, asToken(t, srv, tr.Status.Token)); !apierrors.IsUnauthorized(err) {
		t.Fatalf("a token of a deleted ServiceAccount: %v, want 401", err)
	}
}

// TestTokenRequestRefusals: Kubernetes' validation and binding errors.
func TestTokenRequestRefusals(t *testing.T) {
	t.Parallel()
	srv, admin := startClient(t)
	_ = srv
	ctx := testCtx(t)
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	short := int64(599)
	cases := []struct {
		name string
		sa   string
		spec authenticationv1.TokenRequestSpec
		want string
		is   func(error) bool
	}{
		{"short", "builder", authenticationv1.TokenRequestSpec{ExpirationSeconds: &short}, "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes", apierrors.IsInvalid},
		{"no account", "ghost", authenticationv1.TokenRequestSpec{}, `serviceaccounts "ghost" not found`, apierrors.IsNotFound},
		{"no pod", "builder", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "gone"}}, `pods "gone" not found`, apierrors.IsNotFound},
		{"node", "builder", authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "ConfigMap", APIVersion: "v1", Name: "x"}}, "cannot bind token to object of type /v1, Kind=ConfigMap", apierrors.IsBadRequest},
	}
	for _, c := range cases {
		_, err := admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, c.sa, &authenticationv1.TokenRequest{Spec: c.spec}, metav1.CreateOptions{})
		if err == nil || !c.is(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestKubectlCreateTokenWhoami: the real kubectl's `create token` and `auth whoami`.
func TestKubectlCreateTokenWhoami(t *testing.T) {
	t.Parallel()
	srv, admin := startClient(t)
	kubectl := kubectlFor(t, srv)
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(testCtx(t), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := kubectl("auth", "whoami")
	if err != nil || !strings.Contains(out, "admin") || !strings.Contains(out, "system:masters") {
		t.Fatalf("kubectl auth whoami: %v\n%s", err, out)
	}
	tok, err := kubectl("create", "token", "default", "--duration=10m")
	if err != nil {
		t.Fatalf("kubectl create token: %v\n%s", err, tok)
	}
	out, err = kubectl("auth", "whoami", "--token", strings.TrimSpace(tok), "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
	if err != nil || !strings.Contains(out, "system:serviceaccount:default:default") || !strings.Contains(out, "system:serviceaccounts:default") {
		t.Fatalf("kubectl auth whoami with the token: %v\n%s", err, out)
	}
	if out, err := kubectl("create", "token", "default", "--duration=5m"); err == nil || !strings.Contains(out, "may not specify a duration less than 10 minutes") {
		t.Fatalf("a 5 minute token: %v\n%s", err, out)
	}
}
