package registry

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func admGVR(resource string) (*Resource, bool) {
	return lookup(admissionregistrationv1.SchemeGroupVersion.WithResource(resource))
}

// TestAdmissionRegistrationResourcesRegistered: both webhook configuration resources,
// cluster-scoped, in the api-extensions category, without subresources.
func TestAdmissionRegistrationResourcesRegistered(t *testing.T) {
	tests := []struct {
		resource, kind, singular string
		obj, list                runtime.Object
	}{
		{"validatingwebhookconfigurations", "ValidatingWebhookConfiguration", "validatingwebhookconfiguration",
			&admissionregistrationv1.ValidatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingWebhookConfigurationList{}},
		{"mutatingwebhookconfigurations", "MutatingWebhookConfiguration", "mutatingwebhookconfiguration",
			&admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.MutatingWebhookConfigurationList{}},
	}
	for _, tt := range tests {
		r, ok := admGVR(tt.resource)
		if !ok {
			t.Errorf("%s not served", tt.resource)
			continue
		}
		if r.Kind != tt.kind || r.ListKind != tt.kind+"List" || r.SingularName != tt.singular || r.Namespaced ||
			!cmp.Equal(r.Categories, []string{"api-extensions"}) || r.ShortNames != nil || r.Subresources != nil || r.HasStatus ||
			!r.Stored() || r.Table == nil || r.Default == nil || r.Validate == nil || r.ValidateUpdate == nil {
			t.Errorf("%s: %+v", tt.resource, r)
		}
		if gvk := r.GroupVersionKind(); gvk != admissionregistrationv1.SchemeGroupVersion.WithKind(tt.kind) {
			t.Errorf("%s: %v", tt.resource, gvk)
		}
		if fmt.Sprintf("%T", r.New()) != fmt.Sprintf("%T", tt.obj) || fmt.Sprintf("%T", r.NewList()) != fmt.Sprintf("%T", tt.list) {
			t.Errorf("%s: New %T NewList %T", tt.resource, r.New(), r.NewList())
		}
	}
}

// admTestHook is a valid validating webhook before defaulting.
func admTestHook() admissionregistrationv1.ValidatingWebhook {
	return admissionregistrationv1.ValidatingWebhook{
		Name: "webhook.example.com",
		ClientConfig: admissionregistrationv1.WebhookClientConfig{
			Service: &admissionregistrationv1.ServiceReference{Namespace: "default", Name: "webhook", Path: ptr.To("/validate")},
		},
		Rules: []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
		}},
		SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
		AdmissionReviewVersions: []string{"v1"},
	}
}

// admTestVWC builds a validating configuration with the test hook, mutated, then defaulted.
func admTestVWC(mutate func(c *admissionregistrationv1.ValidatingWebhookConfiguration)) *admissionregistrationv1.ValidatingWebhookConfiguration {
	c := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "config"},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{admTestHook()},
	}
	if mutate != nil {
		mutate(c)
	}
	vwcDefault(c)
	return c
}

// admToMutating is the same configuration as a MutatingWebhookConfiguration.
func admToMutating(c *admissionregistrationv1.ValidatingWebhookConfiguration) *admissionregistrationv1.MutatingWebhookConfiguration {
	m := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: c.ObjectMeta}
	for _, h := range c.Webhooks {
		m.Webhooks = append(m.Webhooks, admissionregistrationv1.MutatingWebhook{
			Name: h.Name, ClientConfig: h.ClientConfig, Rules: h.Rules, FailurePolicy: h.FailurePolicy,
			MatchPolicy: h.MatchPolicy, NamespaceSelector: h.NamespaceSelector, ObjectSelector: h.ObjectSelector,
			SideEffects: h.SideEffects, TimeoutSeconds: h.TimeoutSeconds,
			AdmissionReviewVersions: h.AdmissionReviewVersions, MatchConditions: h.MatchConditions,
		})
	}
	mwcDefault(m)
	return m
}

func TestAdmissionRegistrationDefault(t *testing.T) {
	c := admTestVWC(func(c *admissionregistrationv1.ValidatingWebhookConfiguration) {
		url := admTestHook()
		url.Name = "url.example.com"
		url.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://example.com/hook")}
		url.SideEffects = nil
		c.Webhooks = append(c.Webhooks, url)
	})
	h := c.Webhooks[0]
	want := admTestHook()
	want.FailurePolicy = ptr.To(admissionregistrationv1.Fail)
	want.MatchPolicy = ptr.To(admissionregistrationv1.Equivalent)
	want.NamespaceSelector = &metav1.LabelSelector{}
	want.ObjectSelector = &metav1.LabelSelector{}
	want.TimeoutSeconds = ptr.To[int32](10)
	want.ClientConfig.Service.Port = ptr.To[int32](443)
	want.Rules[0].Scope = ptr.To(admissionregistrationv1.AllScopes)
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("validating webhook defaults (-want +got):\n%s", diff)
	}
	if u := c.Webhooks[1]; u.SideEffects != nil || u.ClientConfig.Service != nil || *u.TimeoutSeconds != 10 {
		t.Errorf("url webhook: sideEffects %v service %v timeout %v", u.SideEffects, u.ClientConfig.Service, *u.TimeoutSeconds)
	}

	m := admToMutating(admTestVWC(nil))
	if p := m.Webhooks[0].ReinvocationPolicy; p == nil || *p != admissionregistrationv1.NeverReinvocationPolicy {
		t.Errorf("mutating reinvocationPolicy %v, want Never", p)
	}
	if s := m.Webhooks[0].ClientConfig.Service.Port; *s != 443 {
		t.Errorf("mutating service port %d", *s)
	}

	// Values a client set are kept.
	set := &admissionregistrationv1.MutatingWebhookConfiguration{Webhooks: []admissionregistrationv1.MutatingWebhook{{
		Name: "set.example.com",
		ClientConfig: admissionregistrationv1.WebhookClientConfig{
			Service: &admissionregistrationv1.ServiceReference{Namespace: "ns", Name: "svc", Port: ptr.To[int32](8443)},
		},
		Rules: []admissionregistrationv1.RuleWithOperations{{Rule: admissionregistrationv1.Rule{
			Scope: ptr.To(admissionregistrationv1.NamespacedScope)}}},
		FailurePolicy:      ptr.To(admissionregistrationv1.Ignore),
		MatchPolicy:        ptr.To(admissionregistrationv1.Exact),
		NamespaceSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
		ObjectSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"c": "d"}},
		TimeoutSeconds:     ptr.To[int32](5),
		ReinvocationPolicy: ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy),
	}}}
	before := set.DeepCopy()
	mwcDefault(set)
	if diff := cmp.Diff(before, set); diff != "" {
		t.Errorf("set values changed (-before +after):\n%s", diff)
	}

	// The descriptors' Default is this defaulting.
	r, _ := admGVR("validatingwebhookconfigurations")
	viaR := &admissionregistrationv1.ValidatingWebhookConfiguration{Webhooks: []admissionregistrationv1.ValidatingWebhook{admTestHook()}}
	r.Default(viaR)
	if diff := cmp.Diff(want, viaR.Webhooks[0]); diff != "" {
		t.Errorf("descriptor Default (-want +got):\n%s", diff)
	}
	r, _ = admGVR("mutatingwebhookconfigurations")
	viaM := &admissionregistrationv1.MutatingWebhookConfiguration{Webhooks: []admissionregistrationv1.MutatingWebhook{{}}}
	r.Default(viaM)
	if viaM.Webhooks[0].ReinvocationPolicy == nil || viaM.Webhooks[0].FailurePolicy == nil {
		t.Errorf("mutating descriptor Default: %+v", viaM.Webhooks[0])
	}
}

const admDNS1123SubdomainMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

// TestAdmissionRegistrationValidate runs each case on a validating configuration and on the
// same configuration as a mutating one, through the descriptors.
func TestAdmissionRegistrationValidate(t *testing.T) {
	type vwc = admissionregistrationv1.ValidatingWebhookConfiguration
	hook := func(mutate func(h *admissionregistrationv1.ValidatingWebhook)) func(*vwc) {
		return func(c *vwc) { mutate(&c.Webhooks[0]) }
	}
	rule := func(mutate func(r *admissionregistrationv1.RuleWithOperations)) func(*vwc) {
		return hook(func(h *admissionregistrationv1.ValidatingWebhook) { mutate(&h.Rules[0]) })
	}
	ops := func(o ...admissionregistrationv1.OperationType) []admissionregistrationv1.OperationType { return o }
	conds := func(n int) []admissionregistrationv1.MatchCondition {
		var out []admissionregistrationv1.MatchCondition
		for i := 0; i < n; i++ {
			out = append(out, admissionregistrationv1.MatchCondition{Name: fmt.Sprintf("c%d", i), Expression: "true"})
		}
		return out
	}
	tests := []struct {
		name   string
		mutate func(*vwc)
		want   []string
	}{
		{"ok", nil, nil},
		{"ok with everything", func(c *vwc) {
			h := &c.Webhooks[0]
			h.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://webhook.example.com:8443/validate/pods"), CABundle: []byte("ca")}
			h.Rules = append(h.Rules,
				admissionregistrationv1.RuleWithOperations{Operations: ops("*"), Rule: admissionregistrationv1.Rule{
					APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*/*"}, Scope: ptr.To(admissionregistrationv1.ClusterScope)}},
				admissionregistrationv1.RuleWithOperations{Operations: ops("DELETE", "CONNECT"), Rule: admissionregistrationv1.Rule{
					APIGroups: []string{"apps", "batch"}, APIVersions: []string{"v1", "v1beta1"}, Resources: []string{"*", "pods/status", "deployments/*", "*/scale"},
					Scope: ptr.To(admissionregistrationv1.NamespacedScope)}})
			h.FailurePolicy = ptr.To(admissionregistrationv1.Ignore)
			h.MatchPolicy = ptr.To(admissionregistrationv1.Exact)
			h.SideEffects = ptr.To(admissionregistrationv1.SideEffectClassNoneOnDryRun)
			h.TimeoutSeconds = ptr.To[int32](30)
			h.AdmissionReviewVersions = []string{"v1beta1", "v1", "v2"}
			h.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod"}}}}
			h.ObjectSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
			h.MatchConditions = conds(64)
			second := admTestHook()
			second.Name = "second.example.com"
			second.ClientConfig.Service.Path = nil
			second.ClientConfig.Service.Port = ptr.To[int32](65535)
			second.TimeoutSeconds = ptr.To[int32](1)
			c.Webhooks = append(c.Webhooks, second)
		}, nil},
		{"no webhooks", func(c *vwc) { c.Webhooks = nil }, nil},

		// Names.
		{"no name", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.Name = "" }),
			[]string{`webhooks[0].name: Required value`}},
		{"two segments", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.Name = "example.com" }),
			[]string{`webhooks[0].name: Invalid value: "example.com": should be a domain with at least three segments separated by dots`}},
		{"not a subdomain", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.Name = "Web_hook.example.com" }),
			[]string{`webhooks[0].name: Invalid value: "Web_hook.example.com": ` + admDNS1123SubdomainMsg}},
		{"duplicate names", func(c *vwc) { c.Webhooks = append(c.Webhooks, admTestHook(), admTestHook()) },
			[]string{`webhooks[1].name: Duplicate value: "webhook.example.com"`, `webhooks[2].name: Duplicate value: "webhook.example.com"`}},

		// Admission review versions.
		{"no admission review versions", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.AdmissionReviewVersions = nil }),
			[]string{`webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1`}},
		{"no accepted admission review version", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.AdmissionReviewVersions = []string{"v2"} }),
			[]string{`webhooks[0].admissionReviewVersions: Invalid value: []string{"v2"}: must include at least one of v1, v1beta1`}},
		{"duplicate and invalid admission review versions", hook(func(h *admissionregistrationv1.ValidatingWebhook) {
			h.AdmissionReviewVersions = []string{"v1", "v1", "V2"}
		}), []string{
			`webhooks[0].admissionReviewVersions[1]: Invalid value: "v1": duplicate version`,
			`webhooks[0].admissionReviewVersions[2]: Invalid value: "V2": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
		}},

		// Side effects, policies, timeout.
		{"no side effects", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.SideEffects = nil }),
			[]string{`webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun`}},
		{"side effects Some", hook(func(h *admissionregistrationv1.ValidatingWebhook) {
			h.SideEffects = ptr.To(admissionregistrationv1.SideEffectClassSome)
		}), []string{`webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"`}},
		{"side effects Unknown", hook(func(h *admissionregistrationv1.ValidatingWebhook) {
			h.SideEffects = ptr.To(admissionregistrationv1.SideEffectClassUnknown)
		}), []string{`webhooks[0].sideEffects: Unsupported value: "Unknown": supported values: "None", "NoneOnDryRun"`}},
		{"bad failure policy", hook(func(h *admissionregistrationv1.ValidatingWebhook) {
			h.FailurePolicy = ptr.To(admissionregistrationv1.FailurePolicyType("Retry"))
		}), []string{`webhooks[0].failurePolicy: Unsupported value: "Retry": supported values: "Fail", "Ignore"`}},
		{"bad match policy", hook(func(h *admissionregistrationv1.ValidatingWebhook) {
			h.MatchPolicy = ptr.To(admissionregistrationv1.MatchPolicyType("Close"))
		}), []string{`webhooks[0].matchPolicy: Unsupported value: "Close": supported values: "Equivalent", "Exact"`}},
		{"timeout 0", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.TimeoutSeconds = ptr.To[int32](0) }),
			[]string{`webhooks[0].timeoutSeconds: Invalid value: 0: the timeout value must be between 1 and 30 seconds`}},
		{"timeout 31", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.TimeoutSeconds = ptr.To[int32](31) }),
			[]string{`webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds`}},

		// Client config.
		{"neither url nor service", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.ClientConfig.Service = nil }),
			[]string{`webhooks[0].clientConfig: Required value: exactly one of url or service is required`}},
		{"url and service", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.ClientConfig.URL = ptr.To("https://example.com") }),
			[]string{`webhooks[0].clientConfig: Required value: exactly one of url or service is required`}},
		{"http url", hook(func(h *admissionregistrationv1.ValidatingWebhook) {
			h.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To("http://example.com/hook")}
		}), []string{`webhooks[0].clientConfig.url: Invalid value: "http": 'https' is the only allowed URL scheme; desired format: https://host[/path]`}},
		{"relative url", hook(func(h *admissionregistrationv1.ValidatingWebhook) {
			h.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To("/hook")}
		}), []string{
			`webhooks[0].clientConfig.url: Invalid value: "": 'https' is the only allowed URL scheme; desired format: https://host[/path]`,
			`webhooks[0].clientConfig.url: Invalid value: "": host must be specified; desired format: https://host[/path]`,
		}},
		{"url with user, query and fragment", hook(func(h *admissionregistrationv1.ValidatingWebhook) {
			h.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://me@example.com/hook?a=b#top")}
		}), []string{
			`webhooks[0].clientConfig.url: Invalid value: "me": user information is not permitted in the URL`,
			`webhooks[0].clientConfig.url: Invalid value: "top": fragments are not permitted in the URL`,
			`webhooks[0].clientConfig.url: Invalid value: "a=b": query parameters are not permitted in the URL`,
		}},
		{"unparsable url", hook(func(h *admissionregistrationv1.ValidatingWebhook) {
			h.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://[::1")}
		}), []string{`webhooks[0].clientConfig.url: Required value: url must be a valid URL: parse "https://[::1": missing ']' in host; desired format: https://host[/path]`}},
		// Upstream passes the service's name where ValidateWebhookService takes the namespace
		// and the other way round: the messages are swapped as kube-apiserver's are.
		{"service without name", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.ClientConfig.Service.Name = "" }),
			[]string{`webhooks[0].clientConfig.service.namespace: Required value: service namespace is required`}},
		{"service without namespace", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.ClientConfig.Service.Namespace = "" }),
			[]string{`webhooks[0].clientConfig.service.name: Required value: service name is required`}},
		{"service port 0", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.ClientConfig.Service.Port = ptr.To[int32](0) }),
			[]string{`webhooks[0].clientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive`}},
		{"service port 65536", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.ClientConfig.Service.Port = ptr.To[int32](65536) }),
			[]string{`webhooks[0].clientConfig.service.port: Invalid value: 65536: port is not valid: must be between 1 and 65535, inclusive`}},
		{"service path without slash", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.ClientConfig.Service.Path = ptr.To("validate") }),
			[]string{`webhooks[0].clientConfig.service.path: Invalid value: "validate": must start with a '/'`}},
		{"service path //", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.ClientConfig.Service.Path = ptr.To("//") }),
			[]string{`webhooks[0].clientConfig.service.path: Invalid value: "//": segment[0] may not be empty`}},
		{"service path bad segments", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.ClientConfig.Service.Path = ptr.To("/a//Bad/") }),
			[]string{
				`webhooks[0].clientConfig.service.path: Invalid value: "/a//Bad/": segment[1] may not be empty`,
				`webhooks[0].clientConfig.service.path: Invalid value: "/a//Bad/": segment[2]: ` + admDNS1123SubdomainMsg,
			}},

		// Rules.
		{"no operations", rule(func(r *admissionregistrationv1.RuleWithOperations) { r.Operations = nil }),
			[]string{`webhooks[0].rules[0].operations: Required value`}},
		{"operations * and more", rule(func(r *admissionregistrationv1.RuleWithOperations) { r.Operations = ops("*", "CREATE") }),
			[]string{`webhooks[0].rules[0].operations: Invalid value: []v1.OperationType{"*", "CREATE"}: if '*' is present, must not specify other operations`}},
		{"unsupported operation", rule(func(r *admissionregistrationv1.RuleWithOperations) { r.Operations = ops("PATCH") }),
			[]string{`webhooks[0].rules[0].operations[0]: Unsupported value: "PATCH": supported values: "*", "CONNECT", "CREATE", "DELETE", "UPDATE"`}},
		{"no api groups, versions or resources", rule(func(r *admissionregistrationv1.RuleWithOperations) { r.Rule = admissionregistrationv1.Rule{} }),
			[]string{
				`webhooks[0].rules[0].apiGroups: Required value`,
				`webhooks[0].rules[0].apiVersions: Required value`,
				`webhooks[0].rules[0].resources: Required value`,
			}},
		{"wildcards with others", rule(func(r *admissionregistrationv1.RuleWithOperations) {
			r.APIGroups = []string{"*", "apps"}
			r.APIVersions = []string{"v1", "*", ""}
		}), []string{
			`webhooks[0].rules[0].apiGroups: Invalid value: []string{"*", "apps"}: if '*' is present, must not specify other API groups`,
			`webhooks[0].rules[0].apiVersions: Invalid value: []string{"v1", "*", ""}: if '*' is present, must not specify other API versions`,
			`webhooks[0].rules[0].apiVersions[2]: Required value`,
		}},
		{"empty resource", rule(func(r *admissionregistrationv1.RuleWithOperations) { r.Resources = []string{"pods", ""} }),
			[]string{`webhooks[0].rules[0].resources[1]: Required value`}},
		{"*/* with others", rule(func(r *admissionregistrationv1.RuleWithOperations) { r.Resources = []string{"*/*", "pods/status"} }),
			[]string{`webhooks[0].rules[0].resources: Invalid value: []string{"*/*", "pods/status"}: if '*/*' is present, must not specify other resources`}},
		{"* with resources", rule(func(r *admissionregistrationv1.RuleWithOperations) { r.Resources = []string{"*", "pods"} }),
			[]string{`webhooks[0].rules[0].resources: Invalid value: []string{"*", "pods"}: if '*' is present, must not specify other resources without subresources`}},
		{"res/* with res/sub", rule(func(r *admissionregistrationv1.RuleWithOperations) { r.Resources = []string{"pods/*", "pods/status"} }),
			[]string{`webhooks[0].rules[0].resources[1]: Invalid value: "pods/status": if 'pods/*' is present, must not specify pods/status`}},
		{"*/sub with res/sub", rule(func(r *admissionregistrationv1.RuleWithOperations) { r.Resources = []string{"*/status", "pods/status"} }),
			[]string{`webhooks[0].rules[0].resources[1]: Invalid value: "pods/status": if '*/status' is present, must not specify pods/status`}},
		{"bad scope", rule(func(r *admissionregistrationv1.RuleWithOperations) {
			r.Scope = ptr.To(admissionregistrationv1.ScopeType("Global"))
		}),
			[]string{`webhooks[0].rules[0].scope: Unsupported value: "Global": supported values: "*", "Cluster", "Namespaced"`}},

		// Selectors.
		{"bad selectors", hook(func(h *admissionregistrationv1.ValidatingWebhook) {
			h.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn}}}
			h.ObjectSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bad value"}}
		}), []string{
			"webhooks[0].namespaceSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
			`webhooks[0].objectSelector.matchLabels: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
		}},

		// Match conditions.
		{"too many match conditions", hook(func(h *admissionregistrationv1.ValidatingWebhook) { h.MatchConditions = conds(65) }),
			[]string{`webhooks[0].matchConditions: Too many: 65: must have at most 64 items`}},
		{"bad match conditions", hook(func(h *admissionregistrationv1.ValidatingWebhook) {
			h.MatchConditions = []admissionregistrationv1.MatchCondition{
				{Name: "", Expression: "true"},
				{Name: "ok", Expression: "  "},
				{Name: "bad name", Expression: "true"},
				{Name: "ok", Expression: "false"},
			}
		}), []string{
			`webhooks[0].matchConditions[0].name: Required value`,
			`webhooks[0].matchConditions[1].expression: Required value`,
			`webhooks[0].matchConditions[2].name: Invalid value: "bad name": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			`webhooks[0].matchConditions[3].name: Duplicate value: "ok"`,
		}},
	}
	vr, _ := admGVR("validatingwebhookconfigurations")
	mr, _ := admGVR("mutatingwebhookconfigurations")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := admTestVWC(tt.mutate)
			if diff := cmp.Diff(tt.want, metaErrStrings(vr.Validate(c))); diff != "" {
				t.Errorf("validating: errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, metaErrStrings(mr.Validate(admToMutating(c)))); diff != "" {
				t.Errorf("mutating: errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAdmissionRegistrationValidateReinvocationPolicy(t *testing.T) {
	r, _ := admGVR("mutatingwebhookconfigurations")
	m := admToMutating(admTestVWC(nil))
	m.Webhooks[0].ReinvocationPolicy = ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy)
	if errs := r.Validate(m); len(errs) != 0 {
		t.Errorf("IfNeeded refused: %v", errs)
	}
	m.Webhooks[0].ReinvocationPolicy = ptr.To(admissionregistrationv1.ReinvocationPolicyType("Always"))
	want := []string{`webhooks[0].reinvocationPolicy: Unsupported value: "Always": supported values: "IfNeeded", "Never"`}
	if diff := cmp.Diff(want, metaErrStrings(r.Validate(m))); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestAdmissionRegistrationValidateResourcesNoSubResources: upstream's check for rules that
// may not name subresources (no webhook rule uses it; kept with validateRule).
func TestAdmissionRegistrationValidateResourcesNoSubResources(t *testing.T) {
	p := field.NewPath("resources")
	tests := []struct {
		resources []string
		want      []string
	}{
		{[]string{"pods", "services"}, nil},
		{[]string{"*"}, nil},
		{nil, []string{`resources: Required value`}},
		{[]string{"", "pods/status"}, []string{`resources[0]: Required value`, `resources[1]: Invalid value: "pods/status": must not specify subresources`}},
		{[]string{"*", "pods"}, []string{`resources: Invalid value: []string{"*", "pods"}: if '*' is present, must not specify other resources`}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, metaErrStrings(admValidateResourcesNoSubResources(tt.resources, p))); diff != "" {
			t.Errorf("%q: errors (-want +got):\n%s", tt.resources, diff)
		}
	}
	rule := admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods/log"}}
	want := []string{`rule.resources[0]: Invalid value: "pods/log": must not specify subresources`}
	if diff := cmp.Diff(want, metaErrStrings(admValidateRule(&rule, field.NewPath("rule"), false))); diff != "" {
		t.Errorf("rule without subresources: errors (-want +got):\n%s", diff)
	}
}

// TestAdmissionRegistrationValidateUpdate: an update is validated as a create, except what
// upstream ratchets — what the stored configuration already has stays allowed.
func TestAdmissionRegistrationValidateUpdate(t *testing.T) {
	type vwc = admissionregistrationv1.ValidatingWebhookConfiguration
	// Only values in match expressions are ratcheted (ValidateLabelSelector's option).
	badSelector := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"bad value"}}}}
	badConds := []admissionregistrationv1.MatchCondition{{Name: "bad name", Expression: "true"}}
	tests := []struct {
		name     string
		old, new func(*vwc)
		want     []string
	}{
		{"unchanged", nil, nil, nil},
		{"labels changed", nil, func(c *vwc) { c.Labels = map[string]string{"a": "b"} }, nil},
		{"new violation", nil, func(c *vwc) { c.Webhooks[0].TimeoutSeconds = ptr.To[int32](60) },
			[]string{`webhooks[0].timeoutSeconds: Invalid value: 60: the timeout value must be between 1 and 30 seconds`}},
		{"side effects Some kept",
			func(c *vwc) { c.Webhooks[0].SideEffects = ptr.To(admissionregistrationv1.SideEffectClassSome) },
			func(c *vwc) { c.Webhooks[0].SideEffects = ptr.To(admissionregistrationv1.SideEffectClassUnknown) }, nil},
		{"side effects still required",
			func(c *vwc) { c.Webhooks[0].SideEffects = ptr.To(admissionregistrationv1.SideEffectClassSome) },
			func(c *vwc) { c.Webhooks[0].SideEffects = nil },
			[]string{`webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun, Some, Unknown`}},
		{"side effects Some added", nil,
			func(c *vwc) { c.Webhooks[0].SideEffects = ptr.To(admissionregistrationv1.SideEffectClassSome) },
			[]string{`webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"`}},
		{"unrecognized admission review versions kept",
			func(c *vwc) { c.Webhooks[0].AdmissionReviewVersions = []string{"v2"} },
			func(c *vwc) { c.Webhooks[0].AdmissionReviewVersions = []string{"v3"} }, nil},
		{"unrecognized admission review versions added", nil,
			func(c *vwc) { c.Webhooks[0].AdmissionReviewVersions = []string{"v3"} },
			[]string{`webhooks[0].admissionReviewVersions: Invalid value: []string{"v3"}: must include at least one of v1, v1beta1`}},
		{"duplicate names kept",
			func(c *vwc) { c.Webhooks = append(c.Webhooks, admTestHook()) },
			func(c *vwc) { c.Webhooks = append(c.Webhooks, admTestHook(), admTestHook()) }, nil},
		{"duplicate names added", nil,
			func(c *vwc) { c.Webhooks = append(c.Webhooks, admTestHook()) },
			[]string{`webhooks[1].name: Duplicate value: "webhook.example.com"`}},
		{"invalid label value kept",
			func(c *vwc) { c.Webhooks[0].ObjectSelector = badSelector },
			func(c *vwc) { c.Webhooks[0].NamespaceSelector = badSelector }, nil},
		{"invalid label value added", nil,
			func(c *vwc) { c.Webhooks[0].NamespaceSelector = badSelector },
			[]string{`webhooks[0].namespaceSelector.matchExpressions[0].values[0]: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
		{"match conditions unchanged",
			func(c *vwc) { c.Webhooks[0].MatchConditions = badConds },
			func(c *vwc) {
				c.Webhooks[0].MatchConditions = badConds
				c.Webhooks[0].TimeoutSeconds = ptr.To[int32](3)
			}, nil},
		{"match conditions changed",
			func(c *vwc) { c.Webhooks[0].MatchConditions = badConds },
			func(c *vwc) {
				c.Webhooks[0].MatchConditions = append([]admissionregistrationv1.MatchCondition{{Name: "ok", Expression: "true"}}, badConds...)
			},
			[]string{`webhooks[0].matchConditions[1].name: Invalid value: "bad name": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`}},
		{"match conditions with a webhook added",
			func(c *vwc) { c.Webhooks[0].MatchConditions = badConds },
			func(c *vwc) {
				c.Webhooks[0].MatchConditions = badConds
				second := admTestHook()
				second.Name = "second.example.com"
				c.Webhooks = append(c.Webhooks, second)
			},
			[]string{`webhooks[0].matchConditions[0].name: Invalid value: "bad name": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`}},
	}
	vr, _ := admGVR("validatingwebhookconfigurations")
	mr, _ := admGVR("mutatingwebhookconfigurations")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldC, newC := admTestVWC(tt.old), admTestVWC(tt.old)
			if tt.new != nil {
				tt.new(newC)
				vwcDefault(newC)
			}
			if diff := cmp.Diff(tt.want, metaErrStrings(vr.ValidateUpdate(newC, oldC))); diff != "" {
				t.Errorf("validating: errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, metaErrStrings(mr.ValidateUpdate(admToMutating(newC), admToMutating(oldC)))); diff != "" {
				t.Errorf("mutating: errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAdmissionRegistrationTable(t *testing.T) {
	created := metav1.NewTime(time.Now().Add(-3 * time.Hour))
	v := admTestVWC(func(c *admissionregistrationv1.ValidatingWebhookConfiguration) {
		c.CreationTimestamp = created
		second := admTestHook()
		second.Name = "second.example.com"
		c.Webhooks = append(c.Webhooks, second)
	})
	m := admToMutating(admTestVWC(nil))
	m.Name = "mutator"
	empty := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "empty"}}
	tests := []struct {
		resource string
		obj      runtime.Object
		want     []interface{}
	}{
		{"validatingwebhookconfigurations", v, []interface{}{"config", int64(2), "3h"}},
		{"mutatingwebhookconfigurations", m, []interface{}{"mutator", int64(1), "<unknown>"}},
		{"mutatingwebhookconfigurations", empty, []interface{}{"empty", int64(0), "<unknown>"}},
	}
	for _, tt := range tests {
		r, _ := admGVR(tt.resource)
		got, err := r.Table.Row(tt.obj)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s row (-want +got):\n%s", tt.resource, diff)
		}
		var cols []string
		for _, c := range r.Table.Columns {
			cols = append(cols, c.Name+"/"+c.Type)
		}
		if diff := cmp.Diff([]string{"Name/string", "Webhooks/integer", "Age/string"}, cols); diff != "" {
			t.Errorf("%s columns (-want +got):\n%s", tt.resource, diff)
		}
		if _, err := r.Table.Row(&admissionregistrationv1.ValidatingAdmissionPolicy{}); err == nil {
			t.Errorf("%s: row of another type", tt.resource)
		}
	}
}

// TestAdmissionRegistrationMatchConditionCEL: match condition expressions compile as CEL to a
// bool, with request, object, oldObject and authorizer but no params; on update, an
// expression already stored compiles in the stored-expressions environment.
func TestAdmissionRegistrationMatchConditionCEL(t *testing.T) {
	vr, _ := admGVR("validatingwebhookconfigurations")
	withConds := func(conds ...admissionregistrationv1.MatchCondition) *admissionregistrationv1.ValidatingWebhookConfiguration {
		return admTestVWC(func(c *admissionregistrationv1.ValidatingWebhookConfiguration) { c.Webhooks[0].MatchConditions = conds })
	}
	ok := withConds(
		admissionregistrationv1.MatchCondition{Name: "request", Expression: "request.resource.group == 'apps' && request.userInfo.username != 'admin'"},
		admissionregistrationv1.MatchCondition{Name: "object", Expression: "object == null || !has(object.metadata.labels) || !('skip' in object.metadata.labels)"},
		admissionregistrationv1.MatchCondition{Name: "old", Expression: "oldObject == null"},
		admissionregistrationv1.MatchCondition{Name: "authorizer", Expression: "authorizer.group('').resource('pods').namespace('default').check('get').allowed()"},
	)
	if errs := vr.Validate(ok); len(errs) != 0 {
		t.Errorf("valid expressions refused: %v", errs)
	}

	bad := withConds(
		admissionregistrationv1.MatchCondition{Name: "syntax", Expression: "request.name =="},
		admissionregistrationv1.MatchCondition{Name: "string", Expression: "'yes'"},
		admissionregistrationv1.MatchCondition{Name: "params", Expression: "params.enabled == true"},
		admissionregistrationv1.MatchCondition{Name: "unknown", Expression: "nosuchvar"},
	)
	want := []struct{ path, fragment string }{
		{"webhooks[0].matchConditions[0].expression", "compilation failed: ERROR: <input>:1:16: Syntax error"},
		{"webhooks[0].matchConditions[1].expression", "must evaluate to bool but got string"},
		{"webhooks[0].matchConditions[2].expression", "compilation failed: ERROR: <input>:1:1: undeclared reference to 'params'"},
		{"webhooks[0].matchConditions[3].expression", "undeclared reference to 'nosuchvar'"},
	}
	errs := vr.Validate(bad)
	if len(errs) != len(want) {
		t.Fatalf("errors %v, want %d", metaErrStrings(errs), len(want))
	}
	for i, w := range want {
		if errs[i].Field != w.path || errs[i].Type != field.ErrorTypeInvalid || !strings.Contains(errs[i].Detail, w.fragment) {
			t.Errorf("error %d: %v, want %s: %q", i, errs[i], w.path, w.fragment)
		}
	}

	// Two-variable comprehensions came with Kubernetes 1.32: a new expression may not use
	// them (the compatibility version is 1.31), a stored one may.
	twoVar := admissionregistrationv1.MatchCondition{Name: "two-var", Expression: "[1, 2].all(i, v, v > i)"}
	errs = vr.Validate(withConds(twoVar))
	if len(errs) != 1 || errs[0].Field != "webhooks[0].matchConditions[0].expression" || !strings.Contains(errs[0].Detail, "compilation failed") {
		t.Errorf("new two-variable comprehension: %v", metaErrStrings(errs))
	}
	old := withConds(twoVar)
	changed := withConds(twoVar, admissionregistrationv1.MatchCondition{Name: "more", Expression: "true"})
	if errs := vr.ValidateUpdate(changed, old); len(errs) != 0 {
		t.Errorf("stored two-variable comprehension refused on update: %v", errs)
	}
	added := withConds(admissionregistrationv1.MatchCondition{Name: "more", Expression: "[3].all(i, v, v > i)"})
	if errs := vr.ValidateUpdate(added, old); len(errs) != 1 {
		t.Errorf("new two-variable comprehension on update: %v", metaErrStrings(errs))
	}
}
