package apiserver_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// A second server over the same store joins with the certificate key instead of copied files:
// it gets the first one's CA, ServiceAccount key and admin token from the encrypted Secret, so
// the admin kubeconfig and ServiceAccount tokens work against both; a wrong key gets nothing,
// and the Secret holds no key in the clear.
func TestSecondServerJoinsWithUploadedCerts(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	srv1 := apiservertest.StartConfig(t, apiserver.RunConfig{Store: st})
	admin1 := clientFor(t, srv1.Config)
	ctx := testCtx(t)
	key, err := apiserver.NewCertificateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := apiserver.UploadCerts(ctx, admin1, srv1.DataDir, key); err != nil {
		t.Fatal(err)
	}
	sec, err := admin1.CoreV1().Secrets("kube-system").Get(ctx, apiserver.CertsSecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := os.ReadFile(filepath.Join(srv1.DataDir, "pki", "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range sec.Data {
		if bytes.Contains(v, []byte("PRIVATE KEY")) || bytes.Equal(v, caKey) {
			t.Errorf("the uploaded %s is in the clear", name)
		}
	}

	wrong, _ := apiserver.NewCertificateKey()
	if err := apiserver.DownloadCerts(ctx, st, t.TempDir(), wrong); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
		t.Errorf("download with a wrong key: %v", err)
	}
	dir2 := t.TempDir()
	if err := apiserver.DownloadCerts(ctx, st, dir2, key); err != nil {
		t.Fatal(err)
	}
	srv2 := apiservertest.StartConfig(t, apiserver.RunConfig{Store: st, DataDir: dir2})
	if !bytes.Equal(srv1.PKI.CACertPEM, srv2.PKI.CACertPEM) {
		t.Fatal("the second server has another CA")
	}
	fp1, err1 := os.ReadFile(filepath.Join(srv1.DataDir, "pki", "front-proxy-ca.crt"))
	fp2, err2 := os.ReadFile(filepath.Join(dir2, "pki", "front-proxy-ca.crt"))
	if err1 != nil || err2 != nil || !bytes.Equal(fp1, fp2) {
		t.Errorf("the second server has another front-proxy CA (%v, %v)", err1, err2)
	}
	// The first server's admin kubeconfig, pointed at the second server.
	cfg := rest.CopyConfig(srv1.Config)
	cfg.Host = srv2.URL
	if _, err := clientFor(t, cfg).CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the first server's admin credential against the second: %v", err)
	}
	// A ServiceAccount token from the first server authenticates at the second.
	eventually(t, 20*time.Second, "default ServiceAccount", func() (bool, error) {
		_, err := admin1.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	tr := tokenFor(t, admin1, "default", "default", authenticationv1.TokenRequestSpec{})
	ui, err := whoami(t, asToken(t, srv2, tr.Status.Token))
	if err != nil || ui.Username != "system:serviceaccount:default:default" {
		t.Errorf("the first server's ServiceAccount token at the second: %q, %v", ui.Username, err)
	}
}
