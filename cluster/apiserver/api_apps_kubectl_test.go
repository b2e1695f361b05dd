package apiserver_test

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/internal/uptest"
)

// kubectlFor runs the real kubectl (v1.32) against srv.
func kubectlFor(t *testing.T, srv *apiservertest.Server) func(args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		uptest.RequireE2E(t, "kubectl not found on PATH: "+err.Error())
	}
	return func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", srv.Kubeconfig}, args...)...).CombinedOutput()
		return string(out), err
	}
}

// mustKubectl wraps kubectl so that a failing command fails the test with its output.
func mustKubectl(t *testing.T, kubectl func(args ...string) (string, error)) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, err := kubectl(args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
}

// tableHeader matches a table header with exactly these columns, in order.
func tableHeader(cols ...string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + strings.Join(cols, `\s+`) + `\s*$`)
}

func TestKubectlAppsPolicyAutoscaling(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	kubectl := kubectlFor(t, srv)
	must := mustKubectl(t, kubectl)
	out := must("create", "-f", "testdata/apps.yaml")
	for _, want := range []string{"deployment.apps/web created", "replicaset.apps/rs1 created", "statefulset.apps/db created",
		"daemonset.apps/agent created", "poddisruptionbudget.policy/web created", "horizontalpodautoscaler.autoscaling/web created"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}

	out = must("get", "deploy,rs,sts,ds,pdb,hpa,controllerrevisions", "-o", "wide")
	for _, re := range []*regexp.Regexp{
		tableHeader("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"),
		regexp.MustCompile(`(?m)^deployment\.apps/web\s+0/2\s+0\s+0\s+\S+\s+c\s+busybox:1\.36\s+app=web\s*$`),
		tableHeader("NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"),
		regexp.MustCompile(`(?m)^replicaset\.apps/rs1\s+3\s+0\s+0\s+\S+\s+c\s+busybox:1\.36\s+app=rs1\s*$`),
		tableHeader("NAME", "READY", "AGE", "CONTAINERS", "IMAGES"),
		regexp.MustCompile(`(?m)^statefulset\.apps/db\s+0/1\s`),
		tableHeader("NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"),
		regexp.MustCompile(`(?m)^daemonset\.apps/agent\s+0\s+0\s+0\s+0\s+0\s+disk=ssd\s`),
		tableHeader("NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"),
		regexp.MustCompile(`(?m)^poddisruptionbudget\.policy/web\s+1\s+N/A\s+0\s`),
		tableHeader("NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"),
		regexp.MustCompile(`(?m)^horizontalpodautoscaler\.autoscaling/web\s+Deployment/web\s+cpu: <unknown>/50%\s+2\s+5\s+0\s`),
	} {
		if !re.MatchString(out) {
			t.Errorf("get -o wide does not match %s:\n%s", re, out)
		}
	}
	// "all" holds the workloads and the autoscaler, not the budget or the revisions.
	out = must("get", "all")
	for _, name := range []string{"deployment.apps/web", "replicaset.apps/rs1", "statefulset.apps/db", "daemonset.apps/agent", "horizontalpodautoscaler.autoscaling/web"} {
		if !strings.Contains(out, name) {
			t.Errorf("get all lacks %s:\n%s", name, out)
		}
	}
	if strings.Contains(out, "poddisruptionbudget") {
		t.Errorf("get all lists the budget:\n%s", out)
	}

	// Server-side defaults, as Kubernetes 1.32 fills them.
	got := must("get", "deploy/web", "-o", "jsonpath={.spec.strategy.type} {.spec.strategy.rollingUpdate.maxSurge} "+
		"{.spec.strategy.rollingUpdate.maxUnavailable} {.spec.revisionHistoryLimit} {.spec.progressDeadlineSeconds} {.metadata.generation}")
	if want := "RollingUpdate 25% 25% 10 600 1"; got != want {
		t.Errorf("deployment defaults %q, want %q", got, want)
	}
	got = must("get", "sts/db", "-o", "jsonpath={.spec.podManagementPolicy} {.spec.updateStrategy.rollingUpdate.partition} "+
		"{.spec.persistentVolumeClaimRetentionPolicy.whenDeleted}/{.spec.persistentVolumeClaimRetentionPolicy.whenScaled} "+
		"{.spec.volumeClaimTemplates[0].spec.volumeMode} {.spec.volumeClaimTemplates[0].status.phase}")
	if want := "OrderedReady 0 Retain/Retain Filesystem Pending"; got != want {
		t.Errorf("statefulset defaults %q, want %q", got, want)
	}
	got = must("get", "ds/agent", "-o", "jsonpath={.spec.updateStrategy.rollingUpdate.maxUnavailable} {.spec.updateStrategy.rollingUpdate.maxSurge} "+
		"{.spec.revisionHistoryLimit} {.metadata.annotations.deprecated\\.daemonset\\.template\\.generation}")
	if want := "1 0 10 1"; got != want {
		t.Errorf("daemonset defaults %q, want %q", got, want)
	}

	if out := must("explain", "deployment.spec.strategy"); !strings.Contains(out, "rollingUpdate\t<RollingUpdateDeployment>") ||
		!strings.Contains(out, "KIND:       Deployment") {
		t.Errorf("explain deployment.spec.strategy:\n%s", out)
	}
	if out := must("explain", "hpa.spec.behavior.scaleUp"); !strings.Contains(out, "stabilizationWindowSeconds") {
		t.Errorf("explain hpa.spec.behavior.scaleUp:\n%s", out)
	}

	// kubectl scale goes through the scale subresource of every scalable kind.
	if out := must("scale", "deploy/web", "--replicas=3"); !strings.Contains(out, "deployment.apps/web scaled") {
		t.Errorf("scale deploy: %s", out)
	}
	must("scale", "sts/db", "--replicas=2")
	must("scale", "rs/rs1", "--replicas=0")
	got = must("get", "deploy/web", "sts/db", "rs/rs1", "-o", "jsonpath={.items[*].spec.replicas}")
	if want := "3 2 0"; got != want {
		t.Errorf("replicas after scale %q, want %q", got, want)
	}

	// kubectl 1.32's autoscale creates an autoscaling/v1 autoscaler; it is stored once and
	// read in either version (v2 preferred).
	if out := must("autoscale", "rs/rs1", "--min=2", "--max=4", "--cpu-percent=60"); !strings.Contains(out, "horizontalpodautoscaler.autoscaling/rs1 autoscaled") {
		t.Errorf("autoscale: %s", out)
	}
	got = must("get", "hpa/rs1", "-o", "jsonpath={.apiVersion} {.spec.metrics[0].resource.name} {.spec.metrics[0].resource.target.averageUtilization} {.spec.minReplicas}")
	if want := "autoscaling/v2 cpu 60 2"; got != want {
		t.Errorf("autoscaled hpa as v2 %q, want %q", got, want)
	}
	got = must("get", "horizontalpodautoscalers.v1.autoscaling/web", "-o", "jsonpath={.apiVersion} {.spec.targetCPUUtilizationPercentage} {.spec.scaleTargetRef.kind}")
	if want := "autoscaling/v1 50 Deployment"; got != want {
		t.Errorf("v2 hpa read as v1 %q, want %q", got, want)
	}
	if out := must("get", "hpa"); !regexp.MustCompile(`(?m)^rs1\s+ReplicaSet/rs1\s+cpu: <unknown>/60%\s+2\s+4\s+0\s`).MatchString(out) {
		t.Errorf("get hpa:\n%s", out)
	}

	out = must("api-resources", "--api-group=apps")
	for _, re := range []string{`deployments\s+deploy\s+apps/v1\s+true\s+Deployment`, `replicasets\s+rs\s+apps/v1`,
		`statefulsets\s+sts\s+apps/v1`, `daemonsets\s+ds\s+apps/v1`, `controllerrevisions\s+apps/v1\s+true\s+ControllerRevision`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("api-resources lacks %s:\n%s", re, out)
		}
	}

	// An invalid spec is refused with its field path and nothing is created.
	bad := strings.NewReplacer("name: web}", "name: bad}", "matchLabels: {app: web}", "matchLabels: {app: other}")
	manifest := bad.Replace(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox:1.36}]}
`)
	cmd := exec.Command("kubectl", "--kubeconfig", srv.Kubeconfig, "create", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	outb, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(outb), `The Deployment "bad" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `+"`selector` does not match template `labels`") {
		t.Errorf("create of an invalid deployment: %v\n%s", err, outb)
	}
	if out, err := kubectl("get", "deploy/bad"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("invalid deployment stored: %v\n%s", err, out)
	}
}
