package apiserver_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// kubectl works with a CRD as with kube-apiserver: apply the CRD, wait for Established, apply
// and re-apply objects of it (client-side apply, with the schema's validation and server-side
// field validation), the CRD's printer columns, `kubectl explain` from the published OpenAPI,
// and deleting the CRD takes its objects and its resource type with it.
func TestKubectlCustomResources(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	kubectl := kubectlFor(t, srv)
	must := mustKubectl(t, kubectl)
	if out := must("apply", "-f", "testdata/crd.yaml"); !strings.Contains(out, "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created") {
		t.Errorf("apply CRD: %s", out)
	}
	must("wait", "--for=condition=Established", "--timeout=20s", "crd/crontabs.stable.example.com")
	out := must("get", "crd")
	if !tableHeader("NAME", "CREATED AT").MatchString(out) || !strings.Contains(out, "crontabs.stable.example.com") {
		t.Errorf("kubectl get crd:\n%s", out)
	}
	if out := must("apply", "-f", "testdata/crontab.yaml"); !strings.Contains(out, "crontab.stable.example.com/backup created") {
		t.Errorf("apply CronTab: %s", out)
	}
	out = must("get", "ct")
	if !tableHeader("NAME", "SPEC", "REPLICAS", "AGE").MatchString(out) || !regexp.MustCompile(`(?m)^backup\s+\* \* \* \* \*/5\s+1\s+\d+s`).MatchString(out) {
		t.Errorf("kubectl get ct (printer columns, replicas defaulted):\n%s", out)
	}
	dir := t.TempDir()
	write := func(name, spec string) string {
		p := filepath.Join(dir, name)
		body := "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: backup\nspec:\n" + spec
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if out := must("apply", "-f", write("changed.yaml", "  cronSpec: \"0 * * * *\"\n  image: backup:1.1\n")); !strings.Contains(out, "crontab.stable.example.com/backup configured") {
		t.Errorf("re-apply: %s", out)
	}
	if out := must("get", "ct", "backup", "-o", "jsonpath={.spec.image} {.metadata.generation}"); out != "backup:1.1 2" {
		t.Errorf("after re-apply: %q, want image backup:1.1 at generation 2", out)
	}
	out, err := kubectl("apply", "-f", write("toomany.yaml", "  cronSpec: \"0 * * * *\"\n  replicas: 20\n"))
	if err == nil || !strings.Contains(out, "spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10") {
		t.Errorf("apply with replicas over the maximum: %v\n%s", err, out)
	}
	out, err = kubectl("apply", "-f", write("unknown.yaml", "  cronSpec: \"0 * * * *\"\n  colour: blue\n"))
	if err == nil || !strings.Contains(out, `unknown field "spec.colour"`) {
		t.Errorf("apply with an unknown field: %v\n%s", err, out)
	}
	out = must("explain", "crontabs.spec")
	for _, want := range []string{"What to run, and when.", "cronSpec", "<string> -required-", "The schedule, in cron format."} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain crontabs.spec lacks %q:\n%s", want, out)
		}
	}
	if out := must("get", "--raw", "/openapi/v2"); !strings.Contains(out, `"com.example.stable.v1.CronTab"`) {
		t.Errorf("/openapi/v2 lacks the CronTab definition")
	}
	if out := must("delete", "crd", "crontabs.stable.example.com"); !strings.Contains(out, `customresourcedefinition.apiextensions.k8s.io "crontabs.stable.example.com" deleted`) {
		t.Errorf("delete CRD: %s", out)
	}
	out, err = kubectl("get", "crontabs")
	// kubectl's discovery cache may still name crontabs: then the server's generic 404.
	if err == nil || !strings.Contains(out, `the server doesn't have a resource type "crontabs"`) && !strings.Contains(out, "the server could not find the requested resource") {
		t.Errorf("get crontabs after the CRD went: %v\n%s", err, out)
	}
}
