package uptest

import (
	"os"
	"strings"
	"testing"
)

// scripts/helm.sh builds the release HelmBinary looks for.
func TestHelmVersionMatchesScript(t *testing.T) {
	b, err := os.ReadFile("../../scripts/helm.sh")
	if err != nil {
		t.Fatal(err)
	}
	if want := "version=${DROVER_HELM_VERSION:-" + HelmVersion + "}"; !strings.Contains(string(b), want) {
		t.Errorf("scripts/helm.sh lacks %q", want)
	}
}
