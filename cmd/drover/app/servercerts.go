package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/store"
)

// joinCerts is a joining server's first step (`drover server --certificate-key-file F` with a
// data dir that has no CA yet): the CA, ServiceAccount key and admin token, decrypted from the
// Secret the first server uploaded into the shared store (kubeadm join --certificate-key).
func joinCerts(ctx context.Context, st store.Store, dataDir, keyFile string, log *slog.Logger) error {
	if keyFile == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dataDir, "pki", "ca.key")); err == nil {
		return nil // joined before (or the first server itself)
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("--certificate-key-file: %w", err)
	}
	if err := apiserver.DownloadCerts(ctx, st, dataDir, strings.TrimSpace(string(b))); err != nil {
		return err
	}
	log.Info("joined: the cluster's CA, ServiceAccount key and admin token came from the store", "dir", dataDir)
	return nil
}

// uploadCerts is `drover server --upload-certs`: once the API serves, the shared files go
// encrypted into the Secret kube-system/drover-certs with the key of keyFile (made there, mode
// 0600, when it does not exist; default DATA-DIR/certificate-key).
func uploadCerts(ctx context.Context, kubeconfig, dataDir, keyFile string, out io.Writer, log *slog.Logger) error {
	if keyFile == "" {
		keyFile = filepath.Join(dataDir, "certificate-key")
	}
	b, err := os.ReadFile(keyFile)
	key := strings.TrimSpace(string(b))
	if errors.Is(err, os.ErrNotExist) {
		if key, err = apiserver.NewCertificateKey(); err != nil {
			return err
		}
		err = os.WriteFile(keyFile, []byte(key+"\n"), 0o600)
	}
	if err != nil {
		return fmt.Errorf("certificate key: %w", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := apiserver.UploadCerts(ctx, cs, dataDir, key); err != nil {
			log.Debug("uploading certificates", "err", err)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("--upload-certs: %w", err)
	}
	fmt.Fprintf(out, "certificates uploaded (Secret kube-system/%s, encrypted); another server over the same store joins with an empty data dir and\n  drover server --store ... --certificate-key-file FILE   (FILE: a copy of %s)\n", apiserver.CertsSecretName, keyFile)
	return nil
}
