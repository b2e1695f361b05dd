package uptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// HelmVersion is the Helm release scripts/helm.sh builds (TestHelmVersionMatchesScript keeps
// the two equal).
const HelmVersion = "v3.21.4"

// HelmBinary returns the helm binary tests drive: $DROVER_HELM (scripts/test.sh exports it),
// else scripts/helm.sh's cached build ($HOME/.cache/drover/bin/helm-VERSION), else `helm` on
// PATH; "" when there is none.
func HelmBinary() string {
	if p := os.Getenv("DROVER_HELM"); p != "" {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "drover", "bin", "helm-"+HelmVersion)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	return ""
}

// RequireHelm returns HelmBinary(), skipping the test when there is none (failing it under
// DROVER_E2E=1).
func RequireHelm(t testing.TB) string {
	t.Helper()
	p := HelmBinary()
	if p == "" {
		RequireE2E(t, "no helm binary: run scripts/helm.sh (or set DROVER_HELM)")
	} else if _, err := os.Stat(p); err != nil {
		RequireE2E(t, "helm binary "+p+": "+err.Error())
	}
	return p
}
