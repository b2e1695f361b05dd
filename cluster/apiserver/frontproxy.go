package apiserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover-ci/drover/cluster/registry"
)

// The front proxy: how the API server passes an authenticated user on to an extension API
// server (kube-apiserver's --proxy-client-cert-file and --requestheader-* flags). The API
// server presents a client certificate from a CA of its own, the front-proxy CA, and names the
// user in request headers; the extension server trusts those headers only on a connection
// whose client certificate chains to the front-proxy CA and is one of the allowed names. It
// learns both from the ConfigMap kube-system/extension-apiserver-authentication, which the API
// server publishes as kube-apiserver's cluster-authentication-trust controller does.

// FrontProxyClientName is the common name of the API server's front-proxy client certificate
// (kubeadm's), the one requestheader-allowed-names lists.
const FrontProxyClientName = "front-proxy-client"

// The request headers the user is passed in (kube-apiserver's, as kubeadm configures them).
const (
	remoteUserHeader        = "X-Remote-User"
	remoteGroupHeader       = "X-Remote-Group"
	remoteExtraHeaderPrefix = "X-Remote-Extra-"
)

// extensionAuthConfigMap is the ConfigMap in kube-system extension API servers read their
// trust from (k8s.io/apiserver's authentication options read it by this name).
const extensionAuthConfigMap = "extension-apiserver-authentication"

// FrontProxy is the API server's credential towards extension API servers.
type FrontProxy struct {
	// CACertPEM is the front-proxy CA, published as requestheader-client-ca-file.
	CACertPEM []byte
	// ClientCert is the API server's client certificate (CN front-proxy-client).
	ClientCert tls.Certificate
}

// LoadOrCreateFrontProxy reads DIR/front-proxy-ca.{crt,key} and
// DIR/front-proxy-client.{crt,key} (kubeadm's names), creating them when missing and
// re-issuing the client certificate when it expires within 30 days. Several API servers over
// one store need the same CA, as they need the same cluster CA.
func LoadOrCreateFrontProxy(dir string) (*FrontProxy, error) {
	caCert, caKey, caPEM, err := loadOrCreateNamedCA(dir, "front-proxy-ca", "front-proxy-ca")
	if err != nil {
		return nil, fmt.Errorf("front-proxy CA: %w", err)
	}
	ca := &PKI{CACertPEM: caPEM, caCert: caCert, caKey: caKey}
	crtPath, keyPath := filepath.Join(dir, "front-proxy-client.crt"), filepath.Join(dir, "front-proxy-client.key")
	if cert, err := tls.LoadX509KeyPair(crtPath, keyPath); err == nil && covers(cert, caCert, nil) {
		return &FrontProxy{CACertPEM: caPEM, ClientCert: cert}, nil
	}
	cert, err := ca.issue(FrontProxyClientName, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	if err := writePEM(crtPath, "CERTIFICATE", cert.Certificate[0], 0o644); err != nil {
		return nil, err
	}
	kb, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return nil, err
	}
	if err := writePEM(keyPath, "EC PRIVATE KEY", kb, 0o600); err != nil {
		return nil, err
	}
	return &FrontProxy{CACertPEM: caPEM, ClientCert: cert}, nil
}

// extensionAuthData is the ConfigMap's data as kube-apiserver writes it: the client CA and
// the request header settings, the lists as JSON arrays.
func extensionAuthData(clientCA []byte, fp *FrontProxy) map[string]string {
	data := map[string]string{}
	if len(clientCA) > 0 {
		data["client-ca-file"] = string(clientCA)
	}
	if fp != nil {
		list := func(v ...string) string { b, _ := json.Marshal(v); return string(b) }
		data["requestheader-client-ca-file"] = string(fp.CACertPEM)
		data["requestheader-username-headers"] = list(remoteUserHeader)
		data["requestheader-group-headers"] = list(remoteGroupHeader)
		data["requestheader-extra-headers-prefix"] = list(remoteExtraHeaderPrefix)
		data["requestheader-allowed-names"] = list(FrontProxyClientName)
	}
	return data
}

// publishExtensionAuth creates or updates kube-system/extension-apiserver-authentication.
// As kube-apiserver's cluster-authentication-trust controller, it merges with what is there:
// other keys are kept, and the CA bundles and lists are unions, so that API servers with
// different CAs over one store are all trusted.
func (s *Server) publishExtensionAuth(ctx context.Context) error {
	want := extensionAuthData(s.clientCAPEM, s.frontProxy)
	if len(want) == 0 {
		return nil
	}
	res := s.configMapsRes()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: extensionAuthConfigMap, Namespace: metav1.NamespaceSystem}, Data: want}
	_, err := s.create(ctx, res, metav1.NamespaceSystem, cm, false)
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	_, err = s.update(ctx, res, metav1.NamespaceSystem, extensionAuthConfigMap, "", func(cur runtime.Object) (runtime.Object, error) {
		c := cur.(*corev1.ConfigMap)
		if c.Data == nil {
			c.Data = map[string]string{}
		}
		for k, v := range want {
			c.Data[k] = mergeTrust(k, c.Data[k], v)
		}
		return c, nil
	}, false, false)
	return err
}

func (s *Server) configMapsRes() *registry.Resource {
	r, _ := s.resources.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"})
	return r
}

func (s *Server) endpointsRes() *registry.Resource {
	r, _ := s.resources.Lookup(endpointsGVR)
	return r
}

// mergeTrust is the union of a ConfigMap value have and this server's want: CA bundles by
// certificate, JSON lists by element; anything else is replaced.
func mergeTrust(key, have, want string) string {
	if have == "" || have == want {
		return want
	}
	if strings.HasSuffix(key, "-ca-file") {
		out, seen := []byte(nil), map[string]bool{}
		for _, bundle := range []string{have, want} {
			rest := []byte(bundle)
			for {
				var b *pem.Block
				if b, rest = pem.Decode(rest); b == nil {
					break
				}
				if b.Type != "CERTIFICATE" || seen[string(b.Bytes)] {
					continue
				}
				seen[string(b.Bytes)] = true
				out = append(out, pem.EncodeToMemory(b)...)
			}
		}
		return string(out)
	}
	var a, b []string
	if json.Unmarshal([]byte(have), &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return want
	}
	for _, v := range b {
		if !slices.Contains(a, v) {
			a = append(a, v)
		}
	}
	out, _ := json.Marshal(a)
	return string(out)
}
