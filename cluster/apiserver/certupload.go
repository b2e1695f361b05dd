package apiserver

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// CertsSecretName is the Secret in kube-system that carries a server's CA, ServiceAccount
// signing key and admin token, encrypted, to the servers that join it over the same store
// (kubeadm's kubeadm-certs, made by `kubeadm init --upload-certs`).
const CertsSecretName = "drover-certs"

// sharedFiles are the data dir's files every server over one store must share, by their key
// in the Secret.
var sharedFiles = map[string]string{
	"ca.crt": "pki/ca.crt", "ca.key": "pki/ca.key", "sa.key": "pki/sa.key", "sa.pub": "pki/sa.pub", "admin.token": "admin.token",
	// The front-proxy CA (kubeadm uploads it too): extension API servers trust the
	// requestheader CA in kube-system/extension-apiserver-authentication.
	"front-proxy-ca.crt": "pki/front-proxy-ca.crt", "front-proxy-ca.key": "pki/front-proxy-ca.key",
}

// optionalShared are the shared files a data dir may lack (an older server's).
var optionalShared = map[string]bool{"sa.pub": true, "front-proxy-ca.crt": true, "front-proxy-ca.key": true}

// NewCertificateKey is a random AES-256 key, hex, as kubeadm's --certificate-key.
func NewCertificateKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func certificateAEAD(key string) (cipher.AEAD, error) {
	b, err := hex.DecodeString(strings.TrimSpace(key))
	if err != nil || len(b) != 32 {
		return nil, errors.New("certificate key: want 64 hex digits (32 bytes)")
	}
	block, err := aes.NewCipher(b)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// UploadCerts encrypts the shared files of dataDir with key (AES-256-GCM, each file sealed with
// its name as additional data) into the Secret kube-system/drover-certs through cs, replacing
// an earlier upload.
func UploadCerts(ctx context.Context, cs kubernetes.Interface, dataDir, key string) error {
	aead, err := certificateAEAD(key)
	if err != nil {
		return err
	}
	data := map[string][]byte{}
	for name, rel := range sharedFiles {
		plain, err := os.ReadFile(filepath.Join(dataDir, rel))
		if errors.Is(err, os.ErrNotExist) && optionalShared[name] {
			continue
		}
		if err != nil {
			return fmt.Errorf("upload certs: %w", err)
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		data[name] = aead.Seal(nonce, nonce, plain, []byte(name))
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: CertsSecretName, Namespace: metav1.NamespaceSystem}, Type: corev1.SecretTypeOpaque, Data: data}
	secrets := cs.CoreV1().Secrets(metav1.NamespaceSystem)
	_, err = secrets.Create(ctx, sec, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = secrets.Update(ctx, sec, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("upload certs: %w", err)
	}
	return nil
}

// DownloadCerts is the other side of UploadCerts for a server that joins: it reads the Secret
// straight from st (it has no CA yet, so no API of its own to ask), decrypts it with key and
// writes the files into dataDir (keys mode 0600). A data dir that already has a CA key is
// left alone when it is the same, and refused when it is another.
func DownloadCerts(ctx context.Context, st store.Store, dataDir, key string) error {
	aead, err := certificateAEAD(key)
	if err != nil {
		return err
	}
	res, ok := registry.Resources().Lookup(secretsGVR)
	if !ok {
		return errors.New("secrets are not served")
	}
	kv, err := st.Get(ctx, objectKey(res, metav1.NamespaceSystem, CertsSecretName))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no uploaded certificates (Secret %s/%s) in the store: start the first server with --upload-certs", metav1.NamespaceSystem, CertsSecretName)
	}
	if err != nil {
		return fmt.Errorf("download certs: %w", err)
	}
	obj, err := decodeObject(res, kv.Value, kv.Revision)
	if err != nil {
		return fmt.Errorf("download certs: %w", err)
	}
	sec := obj.(*corev1.Secret)
	files := map[string][]byte{}
	for name, sealed := range sec.Data {
		if _, ok := sharedFiles[name]; !ok || len(sealed) < aead.NonceSize() {
			continue
		}
		plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(name))
		if err != nil {
			return fmt.Errorf("download certs: %s does not decrypt with the certificate key (another upload's key?)", name)
		}
		files[name] = plain
	}
	for _, need := range []string{"ca.crt", "ca.key", "sa.key", "admin.token"} {
		if files[need] == nil {
			return fmt.Errorf("download certs: the upload lacks %s", need)
		}
	}
	if have, err := os.ReadFile(filepath.Join(dataDir, "pki", "ca.key")); err == nil && string(have) != string(files["ca.key"]) {
		return fmt.Errorf("download certs: %s already has another CA (pki/ca.key): a joining server starts with an empty data dir", dataDir)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "pki"), 0o700); err != nil {
		return err
	}
	for name, b := range files {
		mode := os.FileMode(0o600)
		if strings.HasSuffix(name, ".crt") || strings.HasSuffix(name, ".pub") {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(dataDir, sharedFiles[name]), b, mode); err != nil {
			return fmt.Errorf("download certs: %w", err)
		}
	}
	return nil
}
