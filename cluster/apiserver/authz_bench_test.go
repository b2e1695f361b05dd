package apiserver_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// authzRoles is how many Roles and RoleBindings the authorization benchmark puts in the
// namespace it reads from (issue 14's closing note: 200 of each).
const authzRoles = 200

// authzServer starts an API server with the authorization mode, fills namespace ci with
// authzRoles Roles and RoleBindings of other ServiceAccounts plus one binding (sorted last)
// granting ServiceAccount ci:builder get on ConfigMaps, and returns a client authenticated with
// a token of ci:builder.
func authzServer(b *testing.B, mode string) kubernetes.Interface {
	b.Helper()
	srv := apiservertest.StartConfig(b, apiserver.RunConfig{AuthorizationMode: mode})
	admin, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	must := func(_ any, err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	must(admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ci"}}, metav1.CreateOptions{}))
	must(admin.CoreV1().ServiceAccounts("ci").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{}))
	must(admin.CoreV1().ConfigMaps("ci").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"},
		Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}))
	rbac := admin.RbacV1()
	for i := 0; i < authzRoles; i++ {
		name := fmt.Sprintf("team-%03d", i)
		must(rbac.Roles("ci").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods", "configmaps"}, Verbs: []string{"get", "list", "watch"}}}},
			metav1.CreateOptions{}))
		must(rbac.RoleBindings("ci").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "ci", Name: name}}},
			metav1.CreateOptions{}))
	}
	c := builderClient(b, srv, admin)
	// Without its binding ci:builder may not read the ConfigMap under RBAC: the binding is
	// what allows each benchmarked request.
	_, err = c.CoreV1().ConfigMaps("ci").Get(ctx, "settings", metav1.GetOptions{})
	if mode == apiserver.AuthorizationModeRBAC && !apierrors.IsForbidden(err) {
		b.Fatalf("RBAC, no binding for ci:builder yet: %v, want 403", err)
	}
	must(rbac.RoleBindings("ci").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "zz-builder"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "team-000"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "ci", Name: "builder"}}},
		metav1.CreateOptions{}))
	deadline := time.Now().Add(10 * time.Second)
	for _, err = c.CoreV1().ConfigMaps("ci").Get(ctx, "settings", metav1.GetOptions{}); err != nil; _, err = c.CoreV1().ConfigMaps("ci").Get(ctx, "settings", metav1.GetOptions{}) {
		if time.Now().After(deadline) {
			b.Fatalf("ci:builder with its binding: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c
}

// builderClient is a client authenticated with a token of ServiceAccount ci:builder.
func builderClient(b *testing.B, srv *apiservertest.Server, admin kubernetes.Interface) kubernetes.Interface {
	b.Helper()
	tr, err := admin.CoreV1().ServiceAccounts("ci").CreateToken(context.Background(), "builder", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(srv.Config)
	cfg.BearerToken = tr.Status.Token
	cfg.QPS, cfg.Burst = 1000, 1000
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkAuthorizationGet: GET of one ConfigMap by a ServiceAccount that one RoleBinding among
// authzRoles allows, against two API servers in the same process, one authorizing with RBAC
// and one with AlwaysAllow, requests alternating between them so that both see the same
// machine. Reports RBAC's p50-ms/p99-ms, AlwaysAllow's allow-p50-ms/allow-p99-ms and the p99
// ratio (issue 14's target: ≤ 1.2).
func BenchmarkAuthorizationGet(b *testing.B) {
	clients := map[string]kubernetes.Interface{
		apiserver.AuthorizationModeRBAC:        authzServer(b, apiserver.AuthorizationModeRBAC),
		apiserver.AuthorizationModeAlwaysAllow: authzServer(b, apiserver.AuthorizationModeAlwaysAllow),
	}
	ctx := context.Background()
	get := func(c kubernetes.Interface) time.Duration {
		start := time.Now()
		if _, err := c.CoreV1().ConfigMaps("ci").Get(ctx, "settings", metav1.GetOptions{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	modes := []string{apiserver.AuthorizationModeRBAC, apiserver.AuthorizationModeAlwaysAllow}
	for i := 0; i < 50; i++ { // connection setup and first-use costs
		for _, m := range modes {
			get(clients[m])
		}
	}
	d := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, m := range modes {
			d[m] = append(d[m], get(clients[m]))
		}
	}
	b.StopTimer()
	rbacP50, rbacP99 := percentiles(d[apiserver.AuthorizationModeRBAC])
	allowP50, allowP99 := percentiles(d[apiserver.AuthorizationModeAlwaysAllow])
	b.ReportMetric(rbacP50, "p50-ms") // RBAC's, in scripts/bench.sh's table
	b.ReportMetric(rbacP99, "p99-ms")
	b.ReportMetric(allowP50, "allow-p50-ms")
	b.ReportMetric(allowP99, "allow-p99-ms")
	if allowP99 > 0 {
		b.ReportMetric(rbacP99/allowP99, "p99-ratio")
	}
}

// percentiles are the p50 and p99 of d in milliseconds (d is sorted).
func percentiles(d []time.Duration) (p50, p99 float64) {
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	pct := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	return pct(0.50), pct(0.99)
}
