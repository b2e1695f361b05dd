package app

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/internal/proctest"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestClientErrorsNameTheCause: what a user sees for a wrong token, host or port and for no
// kubeconfig at all is what kubectl says (or, for the kubeconfig, where drover looked and what
// to run), not discovery's "the server doesn't have a resource type".
func TestClientErrorsNameTheCause(t *testing.T) {
	c := startCLI(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	// A KUBECONFIG naming a missing file, not an unset one: this machine's ~/.kube/config
	// (client-go reads $HOME once, at start) must not be found instead.
	missing := filepath.Join(home, "missing-kubeconfig")
	t.Setenv("KUBECONFIG", missing)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong token", []string{"get", "pods", "--kubeconfig", c.kubeconfig, "--token", "wrong"},
			"You must be logged in to the server (Unauthorized)"},
		{"wrong port", []string{"get", "pods", "--kubeconfig", c.kubeconfig, "--server", "https://" + closedPort(t)},
			"was refused - did you specify the right host or port?"},
		{"wrong host", []string{"get", "pods", "--kubeconfig", c.kubeconfig, "--server", "https://no-such-host.invalid:6443"},
			"Unable to connect to the server: dial tcp: lookup no-such-host.invalid"},
		{"forbidden list", []string{"get", "pods", "--kubeconfig", c.kubeconfig, "--as", "jane"},
			`pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"`},
		{"forbidden get", []string{"get", "secret", "x", "-n", "kube-system", "--kubeconfig", c.kubeconfig, "--as", "jane"},
			`secrets "x" is forbidden: User "jane" cannot get resource "secrets" in API group "" in the namespace "kube-system"`},
		{"forbidden yaml", []string{"get", "pods", "-o", "yaml", "--kubeconfig", c.kubeconfig, "--as", "jane"},
			`pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"`},
		{"no kubeconfig", []string{"get", "pods"},
			"no kubeconfig found (looked at " + missing + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut strings.Builder
			err := Run(t.Context(), tc.args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("drover %s: error %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
			}
			for _, never := range []string{"doesn't have a resource type", "KUBERNETES_MASTER"} {
				if strings.Contains(err.Error(), never) {
					t.Errorf("error %q says %q", err, never)
				}
			}
			if tc.name == "no kubeconfig" && !strings.Contains(err.Error(), "make up") {
				t.Errorf("error %q does not name make up", err)
			}
		})
	}
}

// TestClientErrorsNoKlogLines runs the drover binary with a wrong token: stderr holds the one
// error line, not client-go's "Unhandled Error" lines.
func TestClientErrorsNoKlogLines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the drover binary")
	}
	srv := apiservertest.Start(t)
	bin, err := proctest.BuildDrover(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "get", "pods", "--kubeconfig", srv.Kubeconfig, "--token", "wrong")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("drover get pods with a wrong token succeeded:\n%s", out)
	}
	if got, want := strings.TrimSpace(string(out)), "error: You must be logged in to the server (Unauthorized)"; got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

// TestApplyRefusesUnknownFields: create and apply decode strictly by default, as kubectl does:
// an unknown field is refused with its path and nothing is created; --validate=warn lets it
// through.
func TestApplyRefusesUnknownFields(t *testing.T) {
	srv := apiservertest.Start(t)
	c := &cli{t: t, kubeconfig: srv.Kubeconfig}
	manifest := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: typo
  namespace: default
datta:
  a: b
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"create", "apply"} {
		_, _, err := c.run("", verb, "-f", manifest)
		if err == nil || !strings.Contains(err.Error(), `strict decoding error: unknown field "datta"`) {
			t.Errorf("drover %s: error %v, want the unknown field named", verb, err)
		}
	}
	cs := kubernetes.NewForConfigOrDie(srv.Config)
	if _, err := cs.CoreV1().ConfigMaps("default").Get(t.Context(), "typo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("config map after refused create and apply: %v, want not found", err)
	}
	if _, _, err := c.run("", "apply", "--validate=warn", "-f", manifest); err != nil {
		t.Fatalf("apply --validate=warn: %v", err)
	}
	if _, _, err := c.run("", "apply", "--validate=maybe", "-f", manifest); err == nil || !strings.Contains(err.Error(), "--validate") {
		t.Errorf("apply --validate=maybe: %v, want the flag named", err)
	}
}
