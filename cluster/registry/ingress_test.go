package registry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// ingressTestIngress is a valid Ingress: a default backend and one host with one Prefix path.
func ingressTestIngress(mutate func(*networkingv1.Ingress)) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: networkingv1.IngressSpec{
			DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: "default-backend", Port: networkingv1.ServiceBackendPort{Number: 8080}}},
			Rules: []networkingv1.IngressRule{{Host: "foo.bar.com", IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: "web", Port: networkingv1.ServiceBackendPort{Name: "http"}}},
				}}}}}},
		},
	}
	if mutate != nil {
		mutate(ing)
	}
	return ing
}

func TestIngressValidate(t *testing.T) {
	svc := func(name string, port networkingv1.ServiceBackendPort) *networkingv1.IngressBackend {
		return &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name, Port: port}}
	}
	path := func(ing *networkingv1.Ingress) *networkingv1.HTTPIngressPath {
		return &ing.Spec.Rules[0].HTTP.Paths[0]
	}
	tests := []struct {
		name   string
		mutate func(*networkingv1.Ingress)
		want   []string
	}{
		{"ok", nil, nil},
		{"no backend nor rules", func(i *networkingv1.Ingress) { i.Spec = networkingv1.IngressSpec{} },
			[]string{"spec: Invalid value: []v1.IngressRule(nil): either `defaultBackend` or `rules` must be specified"}},
		{"path type required", func(i *networkingv1.Ingress) { path(i).PathType = nil },
			[]string{"spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"}},
		{"path type unknown", func(i *networkingv1.Ingress) { path(i).PathType = ptr.To(networkingv1.PathType("Regex")) },
			[]string{`spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"`}},
		{"prefix path relative and unclean", func(i *networkingv1.Ingress) { path(i).Path = "a//b/.." },
			[]string{
				`spec.rules[0].http.paths[0].path: Invalid value: "a//b/..": must be an absolute path`,
				`spec.rules[0].http.paths[0].path: Invalid value: "a//b/..": must not contain '//'`,
				`spec.rules[0].http.paths[0].path: Invalid value: "a//b/..": cannot end with '/..'`}},
		{"implementation specific may be empty", func(i *networkingv1.Ingress) {
			path(i).PathType, path(i).Path = ptr.To(networkingv1.PathTypeImplementationSpecific), ""
		}, nil},
		{"no paths", func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths = nil },
			[]string{"spec.rules[0].http.paths: Required value"}},
		{"host is an IP", func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "1.2.3.4" },
			[]string{`spec.rules[0].host: Invalid value: "1.2.3.4": must be a DNS name, not an IP address`}},
		{"wildcard host", func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "*.bar.com" }, nil},
		{"bad wildcard host", func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "foo.*.com" },
			[]string{`spec.rules[0].host: Invalid value: "foo.*.com": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"service port name and number", func(i *networkingv1.Ingress) {
			i.Spec.DefaultBackend = svc("web", networkingv1.ServiceBackendPort{Name: "http", Number: 80})
		}, []string{`spec.defaultBackend: Invalid value: "": cannot set both port name & port number`}},
		{"service port missing", func(i *networkingv1.Ingress) { i.Spec.DefaultBackend = svc("web", networkingv1.ServiceBackendPort{}) },
			[]string{"spec.defaultBackend: Required value: port name or number is required"}},
		{"service port out of range", func(i *networkingv1.Ingress) {
			i.Spec.DefaultBackend = svc("web", networkingv1.ServiceBackendPort{Number: 70000})
		}, []string{"spec.defaultBackend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"service name", func(i *networkingv1.Ingress) {
			i.Spec.DefaultBackend = svc("", networkingv1.ServiceBackendPort{Number: 80})
		},
			[]string{"spec.defaultBackend.service.name: Required value"}},
		{"service name not a DNS-1035 label", func(i *networkingv1.Ingress) {
			i.Spec.DefaultBackend = svc("1web", networkingv1.ServiceBackendPort{Number: 80})
		}, []string{`spec.defaultBackend.service.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`}},
		{"no backend kind", func(i *networkingv1.Ingress) { path(i).Backend = networkingv1.IngressBackend{} },
			[]string{`spec.rules[0].http.paths[0].backend: Invalid value: "": resource or service backend is required`}},
		{"resource and service", func(i *networkingv1.Ingress) {
			path(i).Backend.Resource = &corev1.TypedLocalObjectReference{Kind: "StorageBucket", Name: "static"}
		}, []string{`spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends`}},
		{"resource backend", func(i *networkingv1.Ingress) {
			path(i).Backend = networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{APIGroup: ptr.To("k8s.example.com"), Kind: "StorageBucket"}}
		}, []string{"spec.rules[0].http.paths[0].backend.resource.name: Required value: name is required"}},
		{"tls", func(i *networkingv1.Ingress) {
			i.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"*.bar.com", "Bad_Host"}, SecretName: "tls_secret"}}
		}, []string{
			`spec.tls[0].hosts[1]: Invalid value: "Bad_Host": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			`spec.tls[0].secretName: Invalid value: "tls_secret": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"class name", func(i *networkingv1.Ingress) { i.Spec.IngressClassName = ptr.To("Nginx") },
			[]string{`spec.ingressClassName: Invalid value: "Nginx": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"class annotation disagrees", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("nginx")
			i.Annotations = map[string]string{"kubernetes.io/ingress.class": "traefik"}
		}, []string{"annotations.kubernetes.io/ingress.class: Invalid value: \"traefik\": must match `ingressClassName` when both are specified"}},
	}
	res := podLookup(t, NetworkingGroup, "ingresses")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(res.Validate(ingressTestIngress(tt.mutate)))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIngressValidateUpdateRatchets: an invalid TLS secret name an older server stored may
// stay on update (Kubernetes' AllowInvalidSecretName); a new one is refused.
func TestIngressValidateUpdateRatchets(t *testing.T) {
	res := podLookup(t, NetworkingGroup, "ingresses")
	valid := ingressTestIngress(nil)
	bad := ingressTestIngress(func(i *networkingv1.Ingress) { i.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "Bad"}} })
	if errs := res.ValidateUpdate(bad, valid); len(errs) != 1 || errs[0].Field != "spec.tls[0].secretName" {
		t.Errorf("new invalid secret name: %v", errs)
	}
	if errs := res.ValidateUpdate(bad, bad.DeepCopy()); len(errs) != 0 {
		t.Errorf("kept invalid secret name: %v", errs)
	}
}

func TestIngressStatusAndCreate(t *testing.T) {
	res := podLookup(t, NetworkingGroup, "ingresses")
	if !res.Namespaced || !res.HasStatus || !res.HasSubresource("status") || cmp.Diff([]string{"ing"}, res.ShortNames) != "" {
		t.Errorf("descriptor: namespaced %v, status %v %v, short names %v", res.Namespaced, res.HasStatus, res.HasSubresource("status"), res.ShortNames)
	}
	ing := ingressTestIngress(func(i *networkingv1.Ingress) {
		i.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.1"}}
	})
	res.PrepareForCreate(ing)
	if len(ing.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("create kept status %+v", ing.Status)
	}
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "169.1.1.300"}, {Hostname: "10.0.0.1"}, {Hostname: "lb.example.com"}}
	want := []string{
		`status.loadBalancer.ingress[0].ip: Invalid value: "169.1.1.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
		`status.loadBalancer.ingress[1].hostname: Invalid value: "10.0.0.1": must be a DNS name, not an IP address`,
	}
	if diff := cmp.Diff(want, metaErrStrings(res.ValidateStatusUpdate(ing, ing))); diff != "" {
		t.Errorf("status errors (-want +got):\n%s", diff)
	}
}

func TestIngressTable(t *testing.T) {
	res := podLookup(t, NetworkingGroup, "ingresses")
	var names []string
	for _, c := range res.Table.Columns {
		names = append(names, c.Name)
	}
	if diff := cmp.Diff([]string{"Name", "Class", "Hosts", "Address", "Ports", "Age"}, names); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	ing := ingressTestIngress(func(i *networkingv1.Ingress) {
		i.CreationTimestamp = metav1.NewTime(time.Now().Add(-5 * time.Minute))
		i.Spec.Rules = append(i.Spec.Rules, networkingv1.IngressRule{Host: "b.com"}, networkingv1.IngressRule{}, networkingv1.IngressRule{Host: "c.com"}, networkingv1.IngressRule{Host: "d.com"})
		i.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.2"}, {Hostname: "lb.example.com"}, {IP: "10.0.0.2"}}
	})
	row, err := res.Table.Row(ing)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]interface{}{"web", "<none>", "foo.bar.com,b.com,c.com + 2 more...", "10.0.0.2,lb.example.com", "80", "5m"}, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	ing = ingressTestIngress(func(i *networkingv1.Ingress) {
		i.Spec.IngressClassName = ptr.To("nginx")
		i.Spec.Rules = []networkingv1.IngressRule{{}}
		i.Spec.TLS = []networkingv1.IngressTLS{{}}
	})
	row, _ = res.Table.Row(ing)
	if diff := cmp.Diff([]interface{}{"web", "nginx", "*", "", "80, 443", "<unknown>"}, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
}
