package serviceaccount_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/cluster/controller/serviceaccount"
	"github.com/drover-ci/drover/internal/uptest"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func withCA(cc controller.Context) (*serviceaccount.Controller, error) {
	cc.Options.RootCA = []byte(testCA)
	return serviceaccount.New(cc)
}

func ns(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
}

// TestSync: an active namespace without either object gets both; a terminating one gets
// nothing; a namespace with both is left alone; a changed ConfigMap is put back.
func TestSync(t *testing.T) {
	f := controllertest.NewFake(time.Now(), 10)
	x := controllertest.NewFixture(t, f, withCA, ns("ci", corev1.NamespaceActive), ns("gone", corev1.NamespaceTerminating))
	acts := x.Actions("sync ci", func(ctx context.Context) error { return x.C.Sync(ctx, "ci") })
	sas := controllertest.Created[*corev1.ServiceAccount](acts, "serviceaccounts")
	cms := controllertest.Created[*corev1.ConfigMap](acts, "configmaps")
	if len(sas) != 1 || sas[0].Name != "default" || sas[0].Namespace != "ci" {
		t.Fatalf("service accounts created: %v", sas)
	}
	if len(cms) != 1 || cms[0].Name != "kube-root-ca.crt" || cms[0].Data["ca.crt"] != testCA ||
		cms[0].Annotations["kubernetes.io/description"] == "" {
		t.Fatalf("config maps created: %v", cms)
	}
	if acts := x.Actions("sync gone", func(ctx context.Context) error { return x.C.Sync(ctx, "gone") }); len(acts) != 0 {
		t.Fatalf("a terminating namespace got %v", acts)
	}
	if acts := x.Actions("sync missing", func(ctx context.Context) error { return x.C.Sync(ctx, "nope") }); len(acts) != 0 {
		t.Fatalf("a missing namespace got %v", acts)
	}
	x.Put(sas[0], cms[0])
	if acts := x.Actions("sync ci again", func(ctx context.Context) error { return x.C.Sync(ctx, "ci") }); len(acts) != 0 {
		t.Fatalf("a complete namespace got %v", acts)
	}
	changed := cms[0].DeepCopy()
	changed.Data["ca.crt"] = "forged"
	x.Put(changed)
	acts = x.Actions("sync changed", func(ctx context.Context) error { return x.C.Sync(ctx, "ci") })
	if len(acts) != 1 || acts[0].GetVerb() != "update" {
		t.Fatalf("a changed ConfigMap: %v", acts)
	}
}

// TestAgainstAPIServer: every namespace, old and new, gets the default ServiceAccount and
// kube-root-ca.crt (the server's CA) from a real API server, and both come back after being
// deleted or changed. apiservertest runs this controller beside every test server, with the
// server's CA, as drover server does.
func TestAgainstAPIServer(t *testing.T) {
	srv := apiservertest.Start(t)
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	testCA := string(srv.PKI.CACertPEM)
	ctx := t.Context()
	has := func(ns string) bool {
		_, err1 := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		cm, err2 := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err1 == nil && err2 == nil && cm.Data["ca.crt"] == testCA
	}
	for _, n := range []string{"default", "kube-system", "kube-public"} {
		uptest.Eventually(t, 10*time.Second, "the default ServiceAccount and kube-root-ca.crt in "+n, func() bool { return has(n) })
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the default ServiceAccount and kube-root-ca.crt in a new namespace", func() bool { return has("team-a") })
	if err := cs.CoreV1().ServiceAccounts("team-a").Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps("team-a").Delete(ctx, "kube-root-ca.crt", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "both re-created after deletion", func() bool { return has("team-a") })
	cm, _ := cs.CoreV1().ConfigMaps("team-a").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	cm.Data["ca.crt"] = "forged"
	if _, err := cs.CoreV1().ConfigMaps("team-a").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the CA put back after a change", func() bool { return has("team-a") })
	if _, err := cs.CoreV1().ServiceAccounts("nope").Get(ctx, "default", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a namespace that does not exist: %v", err)
	}
}
