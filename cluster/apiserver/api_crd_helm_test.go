package apiserver_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/internal/uptest"
)

// The real Helm CLI installs a chart that ships a CRD in crds/ and an object of it in its
// templates (Helm creates the CRD, waits for the API to serve it, then maps the object's kind
// through discovery), upgrades it, and uninstalls the object (Helm leaves crds/ alone).
func TestHelmChartWithCRD(t *testing.T) {
	t.Parallel()
	helm := uptest.RequireHelm(t)
	srv := apiservertest.Start(t)
	kubectl := kubectlFor(t, srv)
	must := mustKubectl(t, kubectl)
	home := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, helm, append(args, "--kubeconfig", srv.Kubeconfig)...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
			"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("install", "nightly", "testdata/crdchart", "-n", "default", "--wait", "--timeout", "30s"); !strings.Contains(out, "STATUS: deployed") {
		t.Fatalf("helm install:\n%s", out)
	}
	if out := must("get", "crontab", "nightly-backup", "-o", "jsonpath={.spec.cronSpec} {.spec.replicas}"); out != "0 3 * * * 1" {
		t.Errorf("the chart's CronTab: %q", out)
	}
	run("upgrade", "nightly", "testdata/crdchart", "-n", "default", "--set", "schedule=0 4 * * *")
	if out := must("get", "crontab", "nightly-backup", "-o", "jsonpath={.spec.cronSpec}"); out != "0 4 * * *" {
		t.Errorf("after helm upgrade: %q", out)
	}
	run("uninstall", "nightly", "-n", "default")
	out, err := kubectl("get", "crontab", "nightly-backup")
	if err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("the CronTab after helm uninstall: %v\n%s", err, out)
	}
	must("get", "crd", "crontabs.stable.example.com") // Helm never deletes crds/
}
