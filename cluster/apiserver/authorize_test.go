package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// saClient makes namespace ns with its ServiceAccount sa and returns a client with a token of
// it, and the token.
func saClient(t *testing.T, srv *apiservertest.Server, admin kubernetes.Interface, ns, sa string) (kubernetes.Interface, string) {
	t.Helper()
	ctx := testCtx(t)
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	tok := tokenFor(t, admin, ns, sa, authenticationv1.TokenRequestSpec{}).Status.Token
	return asToken(t, srv, tok), tok
}

// allowListPods is a test authorizer in Config.Authorizers: it allows listing pods in "open",
// and SelfSubjectReviews.
type allowListPods struct{}

func (allowListPods) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.IsResourceRequest() && a.GetVerb() == "list" && a.GetResource() == "pods" && a.GetNamespace() == "open" {
		return authorizer.DecisionAllow, "", nil
	}
	if a.IsResourceRequest() && a.GetVerb() == "create" && a.GetResource() == "selfsubjectreviews" {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// TestAuthorizationSeam: with nothing granting it, a ServiceAccount is refused resources,
// subresources, watches, discovery-less paths and /metrics with kube-apiserver's 403 texts;
// the admin (system:masters) is always allowed; an authorizer of Config.Authorizers is asked
// in order; impersonation needs `impersonate` and switches the user.
func TestAuthorizationSeam(t *testing.T) {
	t.Parallel()
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{AuthorizationMode: apiserver.AuthorizationModeRBAC,
		Authorizers: []authorizer.Authorizer{allowListPods{}}})
	admin := clientFor(t, srv.Config)
	ctx := testCtx(t)
	sa, tok := saClient(t, srv, admin, "ci", "default")
	_, err := sa.CoreV1().Pods("ci").List(ctx, metav1.ListOptions{})
	st := wantStatus(t, "SA lists pods", err, http.StatusForbidden)
	if want := `pods is forbidden: User "system:serviceaccount:ci:default" cannot list resource "pods" in API group "" in the namespace "ci"`; st.ErrStatus.Message != want {
		t.Errorf("message %q, want %q", st.ErrStatus.Message, want)
	}
	_, err = sa.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	st = wantStatus(t, "SA gets a node", err, http.StatusForbidden)
	if want := `nodes "n1" is forbidden: User "system:serviceaccount:ci:default" cannot get resource "nodes" in API group "" at the cluster scope`; st.ErrStatus.Message != want {
		t.Errorf("message %q, want %q", st.ErrStatus.Message, want)
	}
	_, err = sa.CoreV1().Pods("ci").Watch(ctx, metav1.ListOptions{})
	wantStatus(t, "SA watches pods", err, http.StatusForbidden)
	err = sa.CoreV1().Pods("ci").GetLogs("p", &corev1.PodLogOptions{}).Do(ctx).Error()
	st = wantStatus(t, "SA reads pod logs", err, http.StatusForbidden)
	if !strings.Contains(st.ErrStatus.Message, `cannot get resource "pods/log" in API group "" in the namespace "ci"`) {
		t.Errorf("pods/log message %q", st.ErrStatus.Message)
	}
	// Config.Authorizers are asked.
	if _, err := sa.CoreV1().Pods("open").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("an allowed list: %v", err)
	}
	// Non-resource paths.
	cfg := rest.AnonymousClientConfig(srv.Config)
	cfg.BearerToken = tok
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := doWith(t, hc, http.MethodGet, srv.URL+"/metrics", "", nil, nil)
	if r.code != http.StatusForbidden || r.status(t).Message != `forbidden: User "system:serviceaccount:ci:default" cannot get path "/metrics"` {
		t.Errorf("SA /metrics: %d %s", r.code, r.body)
	}
	r = doWith(t, hc, http.MethodGet, srv.URL+"/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "", nil, nil)
	if r.code != http.StatusForbidden {
		t.Errorf("SA lists CRDs: %d %s", r.code, r.body)
	}
	for _, p := range []string{"/healthz", "/livez", "/readyz", "/version"} {
		if r := doWith(t, hc, http.MethodGet, srv.URL+p, "", nil, nil); r.code != http.StatusOK {
			t.Errorf("SA %s: %d %s", p, r.code, r.body)
		}
	}
	if r := doRaw(t, srv, http.MethodGet, "/metrics", "", nil); r.code != http.StatusOK {
		t.Errorf("admin /metrics: %d", r.code)
	}
	// Impersonation: the SA may not, the admin may.
	r = doWith(t, hc, http.MethodGet, srv.URL+"/api/v1/namespaces/ci/pods", "", nil, http.Header{"Impersonate-User": {"jane"}})
	if r.code != http.StatusForbidden || r.status(t).Message != `users "jane" is forbidden: User "system:serviceaccount:ci:default" cannot impersonate resource "users" in API group "" at the cluster scope` {
		t.Errorf("SA impersonates jane: %d %s", r.code, r.body)
	}
	icfg := rest.CopyConfig(srv.Config)
	icfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:ci:builder"}
	as := clientFor(t, icfg)
	me, err := whoami(t, as)
	if err != nil || me.Username != "system:serviceaccount:ci:builder" || strings.Join(me.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:ci,system:authenticated" {
		t.Errorf("admin as the builder SA: %+v %v", me, err)
	}
	if _, err := as.CoreV1().Secrets("ci").List(ctx, metav1.ListOptions{}); err == nil {
		t.Errorf("the impersonated SA lists secrets")
	}
	icfg.Impersonate = rest.ImpersonationConfig{UserName: "jane", Groups: []string{"devs"}, UID: "42", Extra: map[string][]string{"scopes": {"a"}}}
	me, err = whoami(t, clientFor(t, icfg))
	if err != nil || me.Username != "jane" || strings.Join(me.Groups, ",") != "devs,system:authenticated" || me.UID != "42" || me.Extra["scopes"][0] != "a" {
		t.Errorf("admin as jane: %+v %v", me, err)
	}
	r = doRaw(t, srv, http.MethodGet, "/api/v1/namespaces", "", nil)
	if r.code != http.StatusOK {
		t.Errorf("admin lists namespaces: %d", r.code)
	}
}

// TestAuthorizationModeUnknown: a mode that is not RBAC or AlwaysAllow is refused.
func TestAuthorizationModeUnknown(t *testing.T) {
	t.Parallel()
	if _, err := apiserver.New(apiserver.Config{Store: nil}); err == nil {
		t.Fatal("no store accepted")
	}
	_, err := apiserver.Listen(testCtx(t), apiserver.RunConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:0", AuthorizationMode: "ABAC", Store: memstore.New()})
	if err == nil || !strings.Contains(err.Error(), `unknown authorization mode "ABAC"`) {
		t.Fatalf("ABAC: %v", err)
	}
}
