package jenkins

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/internal/uptest"
)

// The README's removal command works: `kubectl delete -f jenkins.yaml --ignore-not-found`
// exits 0 and leaves nothing of the manifest behind. (Without --ignore-not-found kubectl
// exits 1: the namespace, first in the file, takes the objects in it with it before kubectl
// reaches them.)
func TestManifestsDeleteWithKubectl(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		uptest.RequireE2E(t, "kubectl not found on PATH")
	}
	kc := apiservertest.Start(t).Kubeconfig
	kubectl := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kc}, args...)...).CombinedOutput()
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := kubectl(args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	must("create", "namespace", "jenkins")
	must("-n", "jenkins", "create", "secret", "generic", "jenkins-admin", "--from-literal=user=admin",
		"--from-literal=password=pw", "--from-literal=token=11"+strings.Repeat("0f", 16))
	must("apply", "-f", "jenkins.yaml")
	out := must("delete", "-f", "jenkins.yaml", "--ignore-not-found")
	if !strings.Contains(out, `namespace "jenkins" deleted`) {
		t.Errorf("kubectl delete output lacks the namespace:\n%s", out)
	}
	uptest.Eventually(t, 60*time.Second, "every object of jenkins.yaml gone", func() bool {
		out, err := kubectl("get", "-f", "jenkins.yaml", "--ignore-not-found", "-o", "name")
		return err == nil && strings.TrimSpace(out) == ""
	})
}
