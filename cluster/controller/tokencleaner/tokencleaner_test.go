package tokencleaner_test

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
	"github.com/drover-ci/drover/cluster/controller/tokencleaner"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestExpiredTokensDeleted: an expired bootstrap token is deleted at once, one that expires
// soon when it expires; a token without expiration, one not yet expired and a Secret of
// another type with an `expiration` key are kept.
func TestExpiredTokensDeleted(t *testing.T) {
	srv := apiservertest.Start(t)
	client, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	secrets := client.CoreV1().Secrets(metav1.NamespaceSystem)
	token := func(id string, typ corev1.SecretType, expiration *time.Time) {
		t.Helper()
		data := map[string]string{"token-id": id, "token-secret": "0123456789abcdef", "usage-bootstrap-authentication": "true"}
		if expiration != nil {
			data["expiration"] = expiration.UTC().Format(time.RFC3339)
		}
		if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id},
			Type: typ, StringData: data}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	at := func(d time.Duration) *time.Time { v := time.Now().Add(d); return &v }
	const bootstrap = corev1.SecretType("bootstrap.kubernetes.io/token")
	token("expird", bootstrap, at(-time.Hour))
	token("soonex", bootstrap, at(3*time.Second))
	token("foreva", bootstrap, nil)
	token("later0", bootstrap, at(time.Hour))
	token("opaque", corev1.SecretTypeOpaque, at(-time.Hour))

	c, err := tokencleaner.New(controller.Context{Client: client, Logger: logtest.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	gone := func(id string) bool {
		_, err := secrets.Get(ctx, "bootstrap-token-"+id, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}
	uptest.Eventually(t, 30*time.Second, "the expired token deleted", func() bool { return gone("expird") })
	uptest.Eventually(t, 30*time.Second, "the token that expired since deleted", func() bool { return gone("soonex") })
	for _, id := range []string{"foreva", "later0", "opaque"} {
		if gone(id) {
			t.Errorf("bootstrap-token-%s was deleted", id)
		}
	}
}
