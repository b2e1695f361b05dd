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

// jenkins.yaml applies with the real kubectl against a drover API server (after the Secret
// the README has the user create), and a second apply changes nothing.
func TestManifestsApplyWithKubectl(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		uptest.RequireE2E(t, "kubectl not found on PATH")
	}
	kc := apiservertest.Start(t).Kubeconfig
	kubectl := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kc}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	kubectl("create", "namespace", "jenkins")
	kubectl("-n", "jenkins", "create", "secret", "generic", "jenkins-admin", "--from-literal=user=admin",
		"--from-literal=password=pw", "--from-literal=token=11"+strings.Repeat("0f", 16))
	out := kubectl("apply", "-f", "jenkins.yaml")
	for _, w := range []string{"statefulset.apps/jenkins created", "service/jenkins created",
		"persistentvolume/jenkins-home-jenkins created", "configmap/drover-jenkins-cloud created", "configmap/jenkins-init created"} {
		if !strings.Contains(out, w) {
			t.Errorf("kubectl apply output lacks %q:\n%s", w, out)
		}
	}
	gen := kubectl("get", "statefulset", "jenkins", "-n", "jenkins", "-o", "jsonpath={.metadata.generation}")
	out = kubectl("apply", "-f", "jenkins.yaml")
	// kubectl re-sends a StatefulSet's volumeClaimTemplates on every apply (a list without a
	// merge key, defaulted by the server) and says "configured", as against Kubernetes
	// (kubernetes/kubernetes#66450); the spec does not change: same generation.
	if strings.Contains(out, "created") || strings.Count(out, "configured") != strings.Count(out, "statefulset.apps/jenkins configured") {
		t.Errorf("a second apply changed something:\n%s", out)
	}
	if g := kubectl("get", "statefulset", "jenkins", "-n", "jenkins", "-o", "jsonpath={.metadata.generation}"); g != gen {
		t.Errorf("a second apply changed the StatefulSet's spec: generation %s → %s", gen, g)
	}
	out = kubectl("get", "statefulset,svc", "-n", "jenkins")
	for _, w := range []string{"statefulset.apps/jenkins", "service/jenkins"} {
		if !strings.Contains(out, w) {
			t.Errorf("kubectl get lacks %q:\n%s", w, out)
		}
	}
}
