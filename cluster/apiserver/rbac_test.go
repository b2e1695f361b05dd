package apiserver_test

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// TestKubectlAuthRBAC: real kubectl against the RBAC authorizer: whoami is the admin; a
// ServiceAccount can do nothing but discovery and self reviews; a Role and RoleBinding created
// with kubectl let it list pods in its namespace and nothing more; --as by a user without
// impersonate is refused 403; kubectl prints roles and bindings as for Kubernetes.
func TestKubectlAuthRBAC(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	kubectl := kubectlFor(t, srv)
	must := mustKubectl(t, kubectl)
	if out := must("auth", "whoami"); !strings.Contains(out, "admin") || !strings.Contains(out, "system:masters") {
		t.Fatalf("auth whoami:\n%s", out)
	}
	must("create", "namespace", "ci")
	const sa = "system:serviceaccount:ci:default"
	out := must("auth", "can-i", "--list", "-n", "ci", "--as="+sa)
	for _, want := range []string{"selfsubjectaccessreviews.authorization.k8s.io", "selfsubjectrulesreviews.authorization.k8s.io",
		"selfsubjectreviews.authentication.k8s.io", "[/api/*]", "[/version]", "[/healthz]"} {
		if !strings.Contains(out, want) {
			t.Errorf("can-i --list lacks %s:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		fields := strings.Fields(line)
		if !strings.HasPrefix(fields[0], "selfsubject") && !strings.HasPrefix(fields[0], "[/") {
			t.Errorf("can-i --list grants a ServiceAccount without bindings more than discovery: %q", line)
		}
	}
	if out, err := kubectl("auth", "can-i", "list", "pods", "-n", "ci", "--as="+sa); err == nil || strings.TrimSpace(out) != "no" {
		t.Fatalf("can-i list pods before the binding: %v %q", err, out)
	}
	must("create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", "ci")
	must("create", "rolebinding", "pod-reader", "--role=pod-reader", "--serviceaccount=ci:default", "-n", "ci")
	if out := must("auth", "can-i", "list", "pods", "-n", "ci", "--as="+sa); strings.TrimSpace(out) != "yes" {
		t.Fatalf("can-i list pods after the binding: %q", out)
	}
	if out, err := kubectl("auth", "can-i", "get", "secrets", "-n", "ci", "--as="+sa); err == nil || strings.TrimSpace(out) != "no" {
		t.Fatalf("can-i get secrets: %v %q", err, out)
	}
	if out, err := kubectl("auth", "can-i", "list", "pods", "-n", "default", "--as="+sa); err == nil || strings.TrimSpace(out) != "no" {
		t.Fatalf("can-i list pods in another namespace: %v %q", err, out)
	}
	out = must("auth", "can-i", "--list", "-n", "ci", "--as="+sa)
	if !regexpLine(out, `^pods\s+\[\]\s+\[\]\s+\[get list\]`) {
		t.Errorf("can-i --list after the binding lacks pods [get list]:\n%s", out)
	}
	// The ServiceAccount's own token: pods yes, secrets 403, --as 403.
	tok := strings.TrimSpace(must("create", "token", "default", "-n", "ci"))
	if out, err := kubectl("--token", tok, "get", "pods", "-n", "ci"); err != nil {
		t.Fatalf("the token lists pods: %v\n%s", err, out)
	}
	out, err := kubectl("--token", tok, "get", "secrets", "-n", "ci")
	if err == nil || !strings.Contains(out, `Error from server (Forbidden): secrets is forbidden: User "system:serviceaccount:ci:default" cannot list resource "secrets" in API group "" in the namespace "ci"`) {
		t.Fatalf("the token lists secrets: %v\n%s", err, out)
	}
	out, err = kubectl("--token", tok, "get", "pods", "-n", "ci", "--as=jane")
	if err == nil || !strings.Contains(out, `users "jane" is forbidden: User "system:serviceaccount:ci:default" cannot impersonate resource "users" in API group "" at the cluster scope`) {
		t.Fatalf("--as without impersonate rights: %v\n%s", err, out)
	}
	out = must("get", "roles,rolebindings", "-n", "ci", "-o", "wide")
	if !tableHeader("NAME", "CREATED AT").MatchString(out) || !tableHeader("NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS").MatchString(out) ||
		!regexpLine(out, `^rolebinding.rbac.authorization.k8s.io/pod-reader\s+Role/pod-reader\s+\S+\s+ci/default$`) {
		t.Errorf("kubectl get roles,rolebindings:\n%s", out)
	}
	out = must("get", "clusterrolebinding", "cluster-admin", "-o", "wide")
	if !regexpLine(out, `^cluster-admin\s+ClusterRole/cluster-admin\s+\S+\s+system:masters\s*$`) {
		t.Errorf("kubectl get clusterrolebinding cluster-admin:\n%s", out)
	}
	if out := must("api-resources", "--api-group=rbac.authorization.k8s.io"); !strings.Contains(out, "clusterrolebindings") || !strings.Contains(out, "roles") {
		t.Errorf("api-resources:\n%s", out)
	}
	// kubectl explain reads the OpenAPI of the new resources.
	if out := must("explain", "role.rules"); !strings.Contains(out, "verbs") {
		t.Errorf("explain role.rules:\n%s", out)
	}
}

// TestRBACIndexFollowsStore: a ServiceAccount's token is refused secrets (403) until a
// RoleBinding is created through another API server over the same store: the authorizer's
// index follows the store's watch; deleting the binding takes the access away again.
func TestRBACIndexFollowsStore(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	dir := t.TempDir()
	one := apiservertest.StartWith(t, st, dir)
	two := apiservertest.StartWith(t, st, dir)
	admin1 := clientFor(t, one.Config)
	ctx := testCtx(t)
	_, tok := saClient(t, two, clientFor(t, two.Config), "ci", "builder")
	sa := asToken(t, two, tok)
	_, err := sa.CoreV1().Secrets("ci").List(ctx, metav1.ListOptions{})
	wantStatus(t, "secrets before the binding", err, http.StatusForbidden)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "secret-reader", Namespace: "ci"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"secrets"}}}}
	if _, err := admin1.RbacV1().Roles("ci").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "builder-secrets", Namespace: "ci"},
		RoleRef:  rbacv1.RoleRef{Kind: "Role", Name: "secret-reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder"}}}
	got, err := admin1.RbacV1().RoleBindings("ci").Create(ctx, rb, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.RoleRef.APIGroup != rbacv1.GroupName {
		t.Errorf("roleRef.apiGroup not defaulted: %+v", got.RoleRef)
	}
	eventually(t, 10*time.Second, "the other server lets the ServiceAccount list secrets", func() (bool, error) {
		_, err := sa.CoreV1().Secrets("ci").List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})
	if _, err := sa.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("secrets of another namespace: %v", err)
	}
	if err := admin1.RbacV1().RoleBindings("ci").Delete(ctx, "builder-secrets", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the other server refuses again", func() (bool, error) {
		_, err := sa.CoreV1().Secrets("ci").List(ctx, metav1.ListOptions{})
		return apierrors.IsForbidden(err), nil
	})
}

// impersonating is a client of srv's admin acting as name in groups.
func impersonating(t *testing.T, srv *apiservertest.Server, name string, groups ...string) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(srv.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: name, Groups: groups}
	return clientFor(t, cfg)
}

// TestRBACEscalation: a user allowed to write Roles and RoleBindings cannot grant what it
// does not hold (Kubernetes' message), can grant what it holds, and can grant more with the
// escalate and bind verbs; a ClusterRole with an aggregationRule needs cluster-admin.
func TestRBACEscalation(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	admin := clientFor(t, srv.Config)
	ctx := testCtx(t)
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ci"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	writer := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "rbac-writer", Namespace: "ci"}, Rules: []rbacv1.PolicyRule{
		// Not "*": that includes escalate and bind.
		{Verbs: []string{"create", "get", "list", "update", "delete"}, APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}},
		{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}
	if _, err := admin.RbacV1().Roles("ci").Create(ctx, writer, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := func(name string, ref rbacv1.RoleRef) {
		t.Helper()
		b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ci"}, RoleRef: ref,
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "jane"}}}
		if _, err := admin.RbacV1().RoleBindings("ci").Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bind("jane-writer", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "rbac-writer"})
	jane := impersonating(t, srv, "jane")
	secrets := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "secrets", Namespace: "ci"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}}}}
	_, err := jane.RbacV1().Roles("ci").Create(ctx, secrets, metav1.CreateOptions{})
	st := wantStatus(t, "a Role with rules jane does not hold", err, http.StatusForbidden)
	want := `roles.rbac.authorization.k8s.io "secrets" is forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:` +
		"\n" + `{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`
	if st.ErrStatus.Message != want {
		t.Errorf("escalation message:\n%s\nwant\n%s", st.ErrStatus.Message, want)
	}
	readers := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: "ci"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}
	if _, err := jane.RbacV1().Roles("ci").Create(ctx, readers, metav1.CreateOptions{}); err != nil {
		t.Fatalf("a Role with rules jane holds: %v", err)
	}
	// Binding: a role whose rules jane holds, yes; the view ClusterRole, no.
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bob-pods", Namespace: "ci"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"}, Subjects: []rbacv1.Subject{{Kind: "User", Name: "bob"}}}
	if _, err := jane.RbacV1().RoleBindings("ci").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatalf("binding a role jane holds: %v", err)
	}
	view := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bob-view", Namespace: "ci"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:aggregate-to-view"}, Subjects: []rbacv1.Subject{{Kind: "User", Name: "bob"}}}
	_, err = jane.RbacV1().RoleBindings("ci").Create(ctx, view, metav1.CreateOptions{})
	st = wantStatus(t, "binding a ClusterRole jane does not hold", err, http.StatusForbidden)
	if !strings.Contains(st.ErrStatus.Message, `rolebindings.rbac.authorization.k8s.io "bob-view" is forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:`) {
		t.Errorf("binding message: %s", st.ErrStatus.Message)
	}
	// An update that only touches what garbage collection needs (finalizers, owner
	// references) is not an escalation check; any other change of a Role with rules jane
	// does not hold is.
	big := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: "ci"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"secrets"}}}}
	if big, err = admin.RbacV1().Roles("ci").Create(ctx, big, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	big.Finalizers = []string{"example.com/keep"}
	if big, err = jane.RbacV1().Roles("ci").Update(ctx, big, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("jane adding a finalizer to a Role she could not create: %v", err)
	}
	big.Labels = map[string]string{"team": "a"}
	_, err = jane.RbacV1().Roles("ci").Update(ctx, big, metav1.UpdateOptions{})
	wantStatus(t, "jane labelling a Role with rules she does not hold", err, http.StatusForbidden)
	big.Labels, big.Finalizers = nil, nil
	if _, err = jane.RbacV1().Roles("ci").Update(ctx, big, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("jane removing the finalizer: %v", err)
	}
	// bind and escalate lift the checks.
	granter := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "granter", Namespace: "ci"}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{"bind"}, APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, ResourceNames: []string{"system:aggregate-to-view"}},
		{Verbs: []string{"escalate"}, APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles"}}}}
	if _, err := admin.RbacV1().Roles("ci").Create(ctx, granter, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind("jane-granter", rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "granter"})
	if _, err := jane.RbacV1().RoleBindings("ci").Create(ctx, view, metav1.CreateOptions{}); err != nil {
		t.Fatalf("binding with the bind verb: %v", err)
	}
	if _, err := jane.RbacV1().Roles("ci").Create(ctx, secrets, metav1.CreateOptions{}); err != nil {
		t.Fatalf("a Role with the escalate verb: %v", err)
	}
	// Cluster-scoped: jane may not create ClusterRoles at all; a user allowed to may not use
	// an aggregationRule.
	cw := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cr-writer"}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{"create"}, APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}}}}
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, cw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ann-cr-writer"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cr-writer"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "ann", APIGroup: rbacv1.GroupName}}}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ann := impersonating(t, srv, "ann")
	agg := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "everything"}, AggregationRule: &rbacv1.AggregationRule{
		ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"x": "y"}}}}}
	_, err = ann.RbacV1().ClusterRoles().Create(ctx, agg, metav1.CreateOptions{})
	st = wantStatus(t, "an aggregated ClusterRole by a non-admin", err, http.StatusForbidden)
	if st.ErrStatus.Message != `clusterroles.rbac.authorization.k8s.io "everything" is forbidden: must have cluster-admin privileges to use the aggregationRule` {
		t.Errorf("aggregationRule message: %s", st.ErrStatus.Message)
	}
	// Validation: Kubernetes' messages and field paths.
	bad := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "ci"},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Pod", Name: "x"}, Subjects: []rbacv1.Subject{{Kind: "Robot", Name: "r"}}}
	_, err = admin.RbacV1().RoleBindings("ci").Create(ctx, bad, metav1.CreateOptions{})
	st = wantStatus(t, "an invalid RoleBinding", err, http.StatusUnprocessableEntity)
	if !hasCause(st.ErrStatus, "roleRef.kind") || !hasCause(st.ErrStatus, "subjects[0].kind") {
		t.Errorf("invalid RoleBinding causes: %+v", st.ErrStatus.Details)
	}
	badRole := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "ci"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, NonResourceURLs: []string{"/x"}}}}
	_, err = admin.RbacV1().Roles("ci").Create(ctx, badRole, metav1.CreateOptions{})
	st = wantStatus(t, "an invalid Role", err, http.StatusUnprocessableEntity)
	if !hasCause(st.ErrStatus, "rules[0].verbs") || !hasCause(st.ErrStatus, "rules[0].nonResourceURLs") {
		t.Errorf("invalid Role causes: %+v", st.ErrStatus.Details)
	}
	got, err := admin.RbacV1().RoleBindings("ci").Get(ctx, "bob-pods", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.RoleRef.Name = "secrets"
	_, err = admin.RbacV1().RoleBindings("ci").Update(ctx, got, metav1.UpdateOptions{})
	st = wantStatus(t, "changing roleRef", err, http.StatusUnprocessableEntity)
	if !strings.Contains(st.ErrStatus.Message, "roleRef: Invalid value") || !strings.Contains(st.ErrStatus.Message, "cannot change roleRef") {
		t.Errorf("roleRef change message: %s", st.ErrStatus.Message)
	}
}

// TestAccessReviews: SubjectAccessReview and LocalSubjectAccessReview answer for another user
// with the reason of the binding that allows it; their validation and the namespace check
// are Kubernetes'; /metrics is readable by system:monitoring; discovery by anyone
// authenticated.
func TestAccessReviews(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	admin := clientFor(t, srv.Config)
	ctx := testCtx(t)
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "bob", Groups: []string{"system:masters"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "delete", Resource: "nodes"}}}
	got, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil || !got.Status.Allowed {
		t.Fatalf("SubjectAccessReview of a master: %+v %v", got, err)
	}
	sar.Spec.Groups = []string{"system:authenticated"}
	got, err = admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil || got.Status.Allowed || got.Status.Denied {
		t.Fatalf("SubjectAccessReview of bob: %+v %v", got.Status, err)
	}
	sar.Spec.ResourceAttributes = nil
	sar.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/apis/apps"}
	got, err = admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil || !got.Status.Allowed || got.Status.Reason != `RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"` {
		t.Fatalf("SubjectAccessReview of discovery: %+v %v", got.Status, err)
	}
	_, err = admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{}, metav1.CreateOptions{})
	st := wantStatus(t, "an empty SubjectAccessReview", err, http.StatusUnprocessableEntity)
	if !hasCause(st.ErrStatus, "spec.resourceAttributes") || !hasCause(st.ErrStatus, "spec.user") {
		t.Errorf("empty SubjectAccessReview causes: %+v", st.ErrStatus.Details)
	}
	lsar := &authorizationv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "default"}, Spec: authorizationv1.SubjectAccessReviewSpec{User: "bob",
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "other", Verb: "get", Resource: "pods"}}}
	_, err = admin.AuthorizationV1().LocalSubjectAccessReviews("default").Create(ctx, lsar, metav1.CreateOptions{})
	st = wantStatus(t, "a LocalSubjectAccessReview of another namespace", err, http.StatusBadRequest)
	if st.ErrStatus.Message != "spec.resourceAttributes.namespace must match namespace: default" {
		t.Errorf("namespace mismatch message: %s", st.ErrStatus.Message)
	}
	lsar.Spec.ResourceAttributes.Namespace = "default"
	if got, err := admin.AuthorizationV1().LocalSubjectAccessReviews("default").Create(ctx, lsar, metav1.CreateOptions{}); err != nil || got.Status.Allowed {
		t.Fatalf("LocalSubjectAccessReview: %+v %v", got, err)
	}
	// /metrics: forbidden for a user, allowed in system:monitoring.
	cfg := rest.CopyConfig(srv.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "prometheus"}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := doWith(t, hc, http.MethodGet, srv.URL+"/metrics", "", nil, nil); r.code != http.StatusForbidden {
		t.Errorf("/metrics for prometheus: %d", r.code)
	}
	for _, p := range []string{"/api", "/api/v1", "/apis", "/apis/rbac.authorization.k8s.io/v1", "/openapi/v2", "/openapi/v3", "/version"} {
		if r := doWith(t, hc, http.MethodGet, srv.URL+p, "", nil, nil); r.code != http.StatusOK {
			t.Errorf("discovery %s for an authenticated user: %d %s", p, r.code, r.body)
		}
	}
	cfg.Impersonate.Groups = []string{"system:monitoring"}
	if hc, err = rest.HTTPClientFor(cfg); err != nil {
		t.Fatal(err)
	}
	if r := doWith(t, hc, http.MethodGet, srv.URL+"/metrics", "", nil, nil); r.code != http.StatusOK {
		t.Errorf("/metrics for system:monitoring: %d %s", r.code, r.body)
	}
}

// TestBootstrapPolicyReconciled: the default roles exist with Kubernetes' labels and
// annotation; a rule removed from one comes back at the next start, unless the role is
// annotated autoupdate "false".
func TestBootstrapPolicyReconciled(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	dir := t.TempDir()
	srv := apiservertest.StartWith(t, st, dir)
	admin := clientFor(t, srv.Config)
	ctx := testCtx(t)
	for _, name := range []string{"cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user", "system:public-info-viewer",
		"system:monitoring", "system:auth-delegator", "system:kube-controller-manager", "system:kube-scheduler", "system:node-bootstrapper",
		"system:certificates.k8s.io:certificatesigningrequests:nodeclient", "system:node"} {
		r, err := admin.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("ClusterRole %s: %v", name, err)
		}
		if r.Annotations["rbac.authorization.kubernetes.io/autoupdate"] != "true" || r.Labels["kubernetes.io/bootstrapping"] != "rbac-defaults" {
			t.Errorf("ClusterRole %s metadata: %+v", name, r.ObjectMeta)
		}
	}
	if r, _ := admin.RbacV1().ClusterRoles().Get(ctx, "edit", metav1.GetOptions{}); r == nil || r.Labels["rbac.authorization.k8s.io/aggregate-to-admin"] != "true" ||
		r.AggregationRule == nil {
		t.Errorf("edit: %+v", r)
	}
	crb, err := admin.RbacV1().ClusterRoleBindings().Get(ctx, "cluster-admin", metav1.GetOptions{})
	if err != nil || len(crb.Subjects) != 1 || crb.Subjects[0].Name != "system:masters" {
		t.Fatalf("cluster-admin binding: %+v %v", crb, err)
	}
	basic, err := admin.RbacV1().ClusterRoles().Get(ctx, "system:basic-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	basic.Rules = basic.Rules[:1]
	if _, err := admin.RbacV1().ClusterRoles().Update(ctx, basic, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mon, err := admin.RbacV1().ClusterRoles().Get(ctx, "system:monitoring", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mon.Rules[0].NonResourceURLs = []string{"/metrics"}
	mon.Annotations["rbac.authorization.kubernetes.io/autoupdate"] = "false"
	if _, err := admin.RbacV1().ClusterRoles().Update(ctx, mon, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv = apiservertest.StartConfig(t, apiserver.RunConfig{Store: st, DataDir: filepath.Clean(dir)})
	admin = clientFor(t, srv.Config)
	basic, err = admin.RbacV1().ClusterRoles().Get(ctx, "system:basic-user", metav1.GetOptions{})
	if err != nil || len(basic.Rules) != 2 {
		t.Errorf("system:basic-user after a restart: %+v %v", basic, err)
	}
	mon, err = admin.RbacV1().ClusterRoles().Get(ctx, "system:monitoring", metav1.GetOptions{})
	if err != nil || len(mon.Rules) != 1 || len(mon.Rules[0].NonResourceURLs) != 1 {
		t.Errorf("system:monitoring (autoupdate false) after a restart: %+v %v", mon, err)
	}
}

// regexpLine reports whether a line of out matches re.
func regexpLine(out, re string) bool {
	return regexp.MustCompile(`(?m)` + re).MatchString(out)
}

// TestNodeCredentialUnderRBAC: with RBAC on, a node's own certificate (system:node:NAME in
// system:nodes, authorized by the Node authorizer before RBAC) registers its Node and reads
// Endpoints, but may not list Secrets, create ClusterRoles or delete Namespaces.
func TestNodeCredentialUnderRBAC(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	cert, err := srv.PKI.IssueUser("system:node:n1", "system:nodes")
	if err != nil {
		t.Fatal(err)
	}
	node := asCert(t, srv, cert)
	ctx := testCtx(t)
	if _, err := node.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the node registers: %v", err)
	}
	if _, err := node.CoreV1().Endpoints("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the node lists endpoints: %v", err)
	}
	_, err = node.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
	wantStatus(t, "the node lists secrets", err, http.StatusForbidden)
	_, err = node.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	wantStatus(t, "the node creates a ClusterRole", err, http.StatusForbidden)
	err = node.CoreV1().Namespaces().Delete(ctx, "default", metav1.DeleteOptions{})
	wantStatus(t, "the node deletes a namespace", err, http.StatusForbidden)
}
