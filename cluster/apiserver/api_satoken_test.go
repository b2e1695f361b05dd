package apiserver_test

import (
	"encoding/json"
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
	// Authenticated (403, not 401): nothing binds the ServiceAccount to a role.
	if _, err := sa.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the token lists pods without a binding: %v", err)
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
	// The serviceaccount controller beside the server may have made it already.
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(testCtx(t), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
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

// TestServiceAccountAdmission: pods get serviceAccountName default and the projected
// kube-api-access volume in every container, as Kubernetes' admission adds it, unless the pod
// or its ServiceAccount turns automount off; a missing ServiceAccount refuses the pod.
func TestServiceAccountAdmission(t *testing.T) {
	t.Parallel()
	_, admin := startClient(t)
	ctx := testCtx(t)
	pods := admin.CoreV1().Pods("default")
	pod, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
		Containers: []corev1.Container{{Name: "a", Image: "busybox"}, {Name: "b", Image: "busybox",
			VolumeMounts: []corev1.VolumeMount{{Name: "own", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}}},
		Volumes: []corev1.Volume{{Name: "own", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Spec.ServiceAccountName != "default" || pod.Spec.DeprecatedServiceAccount != "default" {
		t.Errorf("serviceAccountName %q serviceAccount %q", pod.Spec.ServiceAccountName, pod.Spec.DeprecatedServiceAccount)
	}
	if len(pod.Spec.Volumes) != 2 || !strings.HasPrefix(pod.Spec.Volumes[1].Name, "kube-api-access-") || len(pod.Spec.Volumes[1].Name) != len("kube-api-access-")+5 {
		t.Fatalf("volumes: %+v", pod.Spec.Volumes)
	}
	vol := pod.Spec.Volumes[1]
	want := corev1.Volume{Name: vol.Name, VolumeSource: corev1.VolumeSource{Projected: apiserver.TokenVolumeSource()}}
	if !equalJSON(t, vol, want) {
		t.Errorf("token volume %s", mustJSON(t, vol))
	}
	if s := mustJSON(t, vol.Projected); s != `{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},{"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}],"defaultMode":420}` {
		t.Errorf("projected source %s", s)
	}
	mount := corev1.VolumeMount{Name: vol.Name, ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}
	for _, c := range []corev1.Container{pod.Spec.InitContainers[0], pod.Spec.Containers[0]} {
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0] != mount {
			t.Errorf("container %s mounts %+v", c.Name, c.VolumeMounts)
		}
	}
	if m := pod.Spec.Containers[1].VolumeMounts; len(m) != 1 || m[0].Name != "own" {
		t.Errorf("a container with its own mount there got %+v", m)
	}

	off := false
	pod, err = pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "quiet"}, Spec: corev1.PodSpec{AutomountServiceAccountToken: &off,
		Containers: []corev1.Container{{Name: "a", Image: "busybox"}}}}, metav1.CreateOptions{})
	if err != nil || len(pod.Spec.Volumes) != 0 || len(pod.Spec.Containers[0].VolumeMounts) != 0 {
		t.Fatalf("automount off on the pod: %v %+v", err, pod.Spec)
	}
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "agent"}, AutomountServiceAccountToken: &off}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err = pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "agent"}, Spec: corev1.PodSpec{ServiceAccountName: "agent",
		Containers: []corev1.Container{{Name: "a", Image: "busybox"}}}}, metav1.CreateOptions{})
	if err != nil || len(pod.Spec.Volumes) != 0 {
		t.Fatalf("automount off on the ServiceAccount: %v %+v", err, pod.Spec.Volumes)
	}
	on := true
	pod, err = pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "agent-on"}, Spec: corev1.PodSpec{ServiceAccountName: "agent", AutomountServiceAccountToken: &on,
		Containers: []corev1.Container{{Name: "a", Image: "busybox"}}}}, metav1.CreateOptions{})
	if err != nil || len(pod.Spec.Volumes) != 1 {
		t.Fatalf("the pod's automount wins: %v %+v", err, pod.Spec.Volumes)
	}

	_, err = pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ghostly"}, Spec: corev1.PodSpec{ServiceAccountName: "ghost",
		Containers: []corev1.Container{{Name: "a", Image: "busybox"}}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `pods "ghostly" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found` {
		t.Fatalf("a missing ServiceAccount: %v", err)
	}
}

func mustJSON(t *testing.T, v interface{}) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func equalJSON(t *testing.T, a, b interface{}) bool { return mustJSON(t, a) == mustJSON(t, b) }

// TestLegacyTokenSecret: a kubernetes.io/service-account-token Secret naming an existing
// ServiceAccount is filled with token, ca.crt and namespace; its token authenticates as the
// ServiceAccount while the Secret exists.
func TestLegacyTokenSecret(t *testing.T) {
	t.Parallel()
	srv, admin := startClient(t)
	ctx := testCtx(t)
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ci"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sec, err := admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ci-token",
		Annotations: map[string]string{"kubernetes.io/service-account.name": "ci"}}, Type: corev1.SecretTypeServiceAccountToken}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sec.Data["token"]) == 0 || string(sec.Data["namespace"]) != "default" || !strings.Contains(string(sec.Data["ca.crt"]), "BEGIN CERTIFICATE") ||
		sec.Annotations["kubernetes.io/service-account.uid"] == "" {
		t.Fatalf("secret not filled: %v %v", sec.Annotations, sec.Data)
	}
	cs := asToken(t, srv, string(sec.Data["token"]))
	me, err := whoami(t, cs)
	if err != nil || me.Username != "system:serviceaccount:default:ci" {
		t.Fatalf("legacy token: %+v %v", me, err)
	}
	if err := admin.CoreV1().Secrets("default").Delete(ctx, "ci-token", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := whoami(t, cs); !apierrors.IsUnauthorized(err) {
		t.Fatalf("the token of a deleted secret: %v, want 401", err)
	}
}
