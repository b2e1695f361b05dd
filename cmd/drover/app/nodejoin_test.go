package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/internal/uptest"
)

// runServer runs `drover server` over a memory store in this process until the test ends and
// returns its data dir, URL and admin client.
func runServer(t *testing.T) (dataDir, url string, admin kubernetes.Interface) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dataDir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var errOut bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"server", "--data-dir", dataDir, "--listen", addr, "--store", "memory://",
			"--cluster-cidr", "none", "--metric-resolution", "0", "--log-level", "warn"},
			Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &errOut})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	kc := filepath.Join(dataDir, "kubeconfig")
	uptest.Eventually(t, 30*time.Second, "drover server ready", func() bool {
		cfg, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			return false
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return false
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
			return false
		}
		admin = cs
		return true
	})
	return dataDir, "https://" + addr, admin
}

// run runs a drover command line in this process and returns its output.
func run(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(ctx, args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

// TestE2ENodeJoinsWithBootstrapToken: `drover token create --print-join-command` prints a
// join command; `drover node` run with it (two hollow nodes) pins the CA by its hash, gets
// each node its own client certificate (system:node:NAME, through approved and signed
// kube-apiserver-client-kubelet CSRs requested by system:bootstrap:ID), and the nodes
// register Ready; an unknown or expired token is refused (401) and the node exits.
func TestE2ENodeJoinsWithBootstrapToken(t *testing.T) {
	dataDir, url, admin := runServer(t)
	kc := filepath.Join(dataDir, "kubeconfig")
	ctx := t.Context()
	out, err := run(t, ctx, "token", "create", "--kubeconfig", kc, "--print-join-command", "--description", "join test")
	if err != nil {
		t.Fatalf("drover token create: %v\n%s", err, out)
	}
	fields := strings.Fields(out)
	if len(fields) != 8 || fields[0] != "drover" || fields[1] != "node" || fields[2] != "--server" || fields[3] != url ||
		fields[4] != "--token" || !isBootstrapToken(fields[5]) || fields[6] != "--ca-cert-hash" || !strings.HasPrefix(fields[7], "sha256:") {
		t.Fatalf("join command = %q", out)
	}
	tok, hash := fields[5], fields[7]
	list, err := run(t, ctx, "token", "list", "--kubeconfig", kc)
	if err != nil || !strings.Contains(list, tok[:6]) || !strings.Contains(list, "authentication,signing") || strings.Contains(list, tok[7:]) {
		t.Errorf("drover token list (%v): want the ID, the usages and not the secret:\n%s", err, list)
	}

	nodeDir := t.TempDir()
	// The token from a file, off the command line.
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nctx, ncancel := context.WithCancel(ctx)
	ndone := make(chan error, 1)
	go func() {
		out, err := run(t, nctx, "node", "--runtime=hollow", "--count", "2", "--node-name", "joined", "--server", url, "--token-file", tokFile,
			"--ca-cert-hash", hash, "--data-dir", nodeDir, "--log-port", "0", "--dns=false", "--proxy=false", "--log-level", "warn")
		if err != nil && nctx.Err() == nil {
			t.Logf("drover node: %v\n%s", err, out)
		}
		ndone <- err
	}()
	t.Cleanup(func() { ncancel(); <-ndone })
	for _, name := range []string{"joined-0", "joined-1"} {
		uptest.Eventually(t, 60*time.Second, "node "+name+" Ready", func() bool {
			n, err := admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return true
				}
			}
			return false
		})
		b, err := os.ReadFile(filepath.Join(nodeDir, "pki", "kubelet-client-"+name+"-current.pem"))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject.CommonName != "system:node:"+name || fmt.Sprint(c.Subject.Organization) != "[system:nodes]" {
			t.Errorf("%s's client certificate subject = %v", name, c.Subject)
		}
	}
	csrs, err := admin.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	issued := 0
	for _, r := range csrs.Items {
		if r.Spec.SignerName == certificatesv1.KubeAPIServerClientKubeletSignerName && len(r.Status.Certificate) > 0 {
			issued++
			if r.Spec.Username != "system:bootstrap:"+tok[:6] {
				t.Errorf("client CSR %s requested by %q, want the bootstrap token's user", r.Name, r.Spec.Username)
			}
		}
	}
	if issued != 2 {
		t.Errorf("%d node client CSRs issued, want 2", issued)
	}

	// Unknown and expired tokens: refused, and drover node says so and exits.
	expired, err := createBootstrapToken(ctx, admin, "", time.Minute, "", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"zzzzzz.0123456789abcdef", expired} {
		out, err := run(t, ctx, "node", "--runtime=hollow", "--node-name", "refused", "--server", url, "--token", bad,
			"--ca-cert-hash", hash, "--data-dir", t.TempDir(), "--log-port", "0", "--dns=false", "--proxy=false")
		if err == nil || !strings.Contains(err.Error(), "refused the bootstrap token") || !strings.Contains(err.Error(), "Unauthorized") {
			t.Errorf("drover node with token %s: %v, want the token refused (401)\n%s", bad[:6], err, out)
		}
	}
	// A wrong CA hash: nothing is sent, the join stops.
	_, err = run(t, ctx, "node", "--runtime=hollow", "--node-name", "pinned", "--server", url, "--token", tok,
		"--ca-cert-hash", "sha256:"+strings.Repeat("0", 64), "--data-dir", t.TempDir(), "--log-port", "0", "--dns=false", "--proxy=false")
	if err == nil || !strings.Contains(err.Error(), "no CA with public key hash") {
		t.Errorf("drover node with a wrong --ca-cert-hash: %v", err)
	}
}
