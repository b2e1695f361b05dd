package apiserver_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// TestKubectlIngressesAndFlowControl: networking.k8s.io/v1 and flowcontrol.apiserver.k8s.io/v1
// through real kubectl: api-resources, `kubectl create ingress` getting the default class, the
// tables kubectl prints (as Kubernetes' printers), the v1 defaults and a 422 with its path.
func TestKubectlIngressesAndFlowControl(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	kubectl := kubectlFor(t, srv)
	must := mustKubectl(t, kubectl)
	out := must("api-resources", "--api-group=networking.k8s.io")
	for _, re := range []string{`(?m)^ingressclasses\s+networking\.k8s\.io/v1\s+false\s+IngressClass\s*$`,
		`(?m)^ingresses\s+ing\s+networking\.k8s\.io/v1\s+true\s+Ingress\s*$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("api-resources networking.k8s.io does not match %s:\n%s", re, out)
		}
	}
	out = must("api-resources", "--api-group=flowcontrol.apiserver.k8s.io")
	for _, re := range []string{`(?m)^flowschemas\s+flowcontrol\.apiserver\.k8s\.io/v1\s+false\s+FlowSchema\s*$`,
		`(?m)^prioritylevelconfigurations\s+flowcontrol\.apiserver\.k8s\.io/v1\s+false\s+PriorityLevelConfiguration\s*$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("api-resources flowcontrol does not match %s:\n%s", re, out)
		}
	}

	must("create", "-f", "testdata/netflow.yaml")
	out = must("create", "ingress", "web", "--rule=jenkins.example.com/*=jenkins:8080,tls=jenkins-tls")
	if !strings.Contains(out, "ingress.networking.k8s.io/web created") {
		t.Errorf("create ingress: %s", out)
	}
	out = must("get", "ing,ingressclasses,flowschemas,prioritylevelconfigurations")
	for _, re := range []*regexp.Regexp{
		tableHeader("NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"),
		regexp.MustCompile(`(?m)^ingress\.networking\.k8s\.io/web\s+nginx\s+jenkins\.example\.com\s+80, 443\s+\S+\s*$`),
		tableHeader("NAME", "CONTROLLER", "PARAMETERS", "AGE"),
		regexp.MustCompile(`(?m)^ingressclass\.networking\.k8s\.io/nginx\s+k8s\.io/ingress-nginx\s+IngressParameters\.k8s\.example\.com/external-lb\s+\S+\s*$`),
		tableHeader("NAME", "PRIORITYLEVEL", "MATCHINGPRECEDENCE", "DISTINGUISHERMETHOD", "AGE", "MISSINGPL"),
		regexp.MustCompile(`(?m)^flowschema\.flowcontrol\.apiserver\.k8s\.io/builds\s+builds\s+1000\s+ByUser\s+\S+\s+\?\s*$`),
		tableHeader("NAME", "TYPE", "NOMINALCONCURRENCYSHARES", "QUEUES", "HANDSIZE", "QUEUELENGTHLIMIT", "AGE"),
		regexp.MustCompile(`(?m)^prioritylevelconfiguration\.flowcontrol\.apiserver\.k8s\.io/builds\s+Limited\s+30\s+64\s+8\s+50\s+\S+\s*$`),
	} {
		if !re.MatchString(out) {
			t.Errorf("get does not match %s:\n%s", re, out)
		}
	}
	if got, want := must("get", "ingressclass/nginx", "-o", "jsonpath={.spec.parameters.scope}"), "Cluster"; got != want {
		t.Errorf("parameters scope %q, want %q", got, want)
	}
	out, err := kubectl("patch", "ingressclass/nginx", "--type=merge", "-p", `{"spec":{"controller":"example.com/other"}}`)
	if err == nil || !strings.Contains(out, `The IngressClass "nginx" is invalid: spec.controller: Invalid value: "example.com/other": field is immutable`) {
		t.Errorf("controller change: %v\n%s", err, out)
	}
}
