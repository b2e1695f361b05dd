package drain_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestInvalidSpecsWithKubectl: the real kubectl gets 422 answers naming the field for an
// invalid DaemonSet and an invalid PodDisruptionBudget, and nothing is stored.
func TestInvalidSpecsWithKubectl(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		uptest.RequireE2E(t, "kubectl not found on PATH: "+err.Error())
	}
	srv := apiservertest.Start(t)
	k := &kubectl{t: t, kubeconfig: srv.Kubeconfig}
	dir := t.TempDir()
	cases := []struct {
		name, manifest string
		want           []string
	}{
		{"daemonset", `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: bad}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: c, image: drover/testserver:1}]
`, []string{`The DaemonSet "bad" is invalid`, "spec.template.metadata.labels"}},
		{"pdb", `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: bad}
spec:
  minAvailable: -1
  selector: {matchLabels: {app: web}}
`, []string{`The PodDisruptionBudget "bad" is invalid`, "spec.minAvailable"}},
	}
	for _, tc := range cases {
		path := filepath.Join(dir, tc.name+".yaml")
		if err := os.WriteFile(path, []byte(tc.manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := k.run(30*time.Second, "apply", "-f", path)
		if err == nil {
			t.Errorf("%s: apply of an invalid spec succeeded:\n%s", tc.name, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: kubectl output lacks %q:\n%s", tc.name, w, out)
			}
		}
		kind := map[string]string{"daemonset": "daemonset", "pdb": "pdb"}[tc.name]
		if out, err := k.run(30*time.Second, "get", kind, "bad"); err == nil || !strings.Contains(out, "NotFound") {
			t.Errorf("%s: the invalid object was stored: %v\n%s", tc.name, err, out)
		}
	}
}
