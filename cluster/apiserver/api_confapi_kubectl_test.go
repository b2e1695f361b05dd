package apiserver_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// TestKubectlPodTemplatesRuntimeClassesEndpointSlices: the v1 podtemplates, node.k8s.io/v1
// runtimeclasses and discovery.k8s.io/v1 endpointslices resources through real kubectl:
// create, the tables kubectl prints, the defaults and the 422 answers with field paths.
func TestKubectlPodTemplatesRuntimeClassesEndpointSlices(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	kubectl := kubectlFor(t, srv)
	must := mustKubectl(t, kubectl)
	out := must("create", "-f", "testdata/confapi.yaml")
	for _, want := range []string{"podtemplate/tmpl created", "runtimeclass.node.k8s.io/gvisor created", "endpointslice.discovery.k8s.io/manual-1 created"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	out = must("get", "podtemplates,runtimeclasses,endpointslices")
	for _, re := range []*regexp.Regexp{
		tableHeader("NAME", "CONTAINERS", "IMAGES", "POD LABELS"),
		regexp.MustCompile(`(?m)^podtemplate/tmpl\s+c\s+busybox:1\.36\s+app=tmpl\s*$`),
		tableHeader("NAME", "HANDLER", "AGE"),
		regexp.MustCompile(`(?m)^runtimeclass\.node\.k8s\.io/gvisor\s+runsc\s+\S+\s*$`),
		tableHeader("NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"),
		regexp.MustCompile(`(?m)^endpointslice\.discovery\.k8s\.io/manual-1\s+IPv4\s+80\s+10\.0\.0\.5\s+\S+\s*$`),
	} {
		if !re.MatchString(out) {
			t.Errorf("get does not match %s:\n%s", re, out)
		}
	}
	// Defaults: the pod template's pod spec, the slice port's protocol.
	if got, want := must("get", "podtemplate/tmpl", "-o", "jsonpath={.template.spec.restartPolicy} {.template.spec.containers[0].imagePullPolicy}"), "Always IfNotPresent"; got != want {
		t.Errorf("pod template defaults %q, want %q", got, want)
	}
	if got, want := must("get", "endpointslice/manual-1", "-o", "jsonpath={.ports[0].protocol}"), "TCP"; got != want {
		t.Errorf("endpointslice port protocol %q, want %q", got, want)
	}
	// Validation, with field paths; the handler is immutable.
	for _, tc := range []struct{ args, want []string }{
		{[]string{"patch", "runtimeclass/gvisor", "--type=merge", "-p", `{"handler":"kata"}`},
			[]string{`The RuntimeClass "gvisor" is invalid: handler: Invalid value: "kata": field is immutable`}},
		{[]string{"patch", "endpointslice/manual-1", "--type=merge", "-p", `{"addressType":"IPv6"}`},
			[]string{`addressType: Invalid value: "IPv6": field is immutable`, `endpoints[0].addresses[0]: Invalid value: "10.0.0.5": must be a valid IPv6 address`}},
		{[]string{"patch", "podtemplate/tmpl", "--type=json", "-p", `[{"op":"replace","path":"/template/spec/containers/0/name","value":"Bad_Name"}]`},
			[]string{`PodTemplate "tmpl" is invalid: template.spec.containers[0].name: Invalid value: "Bad_Name"`}},
	} {
		out, err := kubectl(tc.args...)
		if err == nil {
			t.Errorf("kubectl %s succeeded:\n%s", strings.Join(tc.args, " "), out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("kubectl %s: output lacks %q:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
	}
	// Discovery: kubectl finds the new groups' resources.
	out = must("api-resources", "--api-group=discovery.k8s.io")
	if !regexp.MustCompile(`(?m)^endpointslices\s+discovery\.k8s\.io/v1\s+true\s+EndpointSlice\s*$`).MatchString(out) {
		t.Errorf("api-resources discovery.k8s.io:\n%s", out)
	}
	out = must("api-resources", "--api-group=node.k8s.io")
	if !regexp.MustCompile(`(?m)^runtimeclasses\s+node\.k8s\.io/v1\s+false\s+RuntimeClass\s*$`).MatchString(out) {
		t.Errorf("api-resources node.k8s.io:\n%s", out)
	}
	if !strings.Contains(must("explain", "runtimeclass.handler"), "handler specifies the underlying runtime") {
		t.Errorf("kubectl explain runtimeclass.handler lacks the OpenAPI description")
	}
}
