package apiserver_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/internal/logtest"
)

// errNotYet: a policy not in force yet (policies reach the server's informers, and are
// compiled, a moment after they are written, as in Kubernetes).
var errNotYet = errors.New("policy not in force yet")

// vapNamespace creates a namespace labelled for the policies of a test.
func vapNamespace(t *testing.T, ctx context.Context, cs kubernetes.Interface, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"vap-test": name}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// deploymentPolicy is a policy on apps/v1 deployments created and updated in namespaces
// labelled vap-test=ns, as the conformance tests build theirs.
func deploymentPolicy(name, ns string, validations ...admissionregistrationv1.Validation) *admissionregistrationv1.ValidatingAdmissionPolicy {
	return &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"vap-test": ns}},
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
						Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"},
							Resources: []string{"deployments"}},
					},
				}},
			},
			Validations: validations,
		},
	}
}

func vapBinding(name, policy, ns string, actions ...admissionregistrationv1.ValidationAction) *admissionregistrationv1.ValidatingAdmissionPolicyBinding {
	return &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName: policy,
			MatchResources: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"vap-test": ns}},
			},
			ValidationActions: actions,
		},
	}
}

func createPolicy(t *testing.T, ctx context.Context, cs kubernetes.Interface, p *admissionregistrationv1.ValidatingAdmissionPolicy, b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	t.Helper()
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create policy: %v", err)
	}
	if b == nil {
		return
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create binding: %v", err)
	}
}

func basicDeployment(name string, replicas int32, labels map[string]string) *appsv1.Deployment {
	sel := map[string]string{"app": "nginx"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:latest"}}},
			},
		},
	}
}

// waitDenied creates d until the policy denies it, and returns the denial.
func waitDenied(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string, d *appsv1.Deployment) error {
	t.Helper()
	var denial error
	retryUntil(t, ctx, "the policy denying "+d.Name, func() error {
		_, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
		if err == nil {
			_ = cs.AppsV1().Deployments(ns).Delete(ctx, d.Name, metav1.DeleteOptions{})
			return errNotYet
		}
		denial = err
		return nil
	})
	return denial
}

// A policy denies a Deployment with too few replicas with Kubernetes' message (its
// messageExpression), as a 422; namespaceObject is the request's namespace; other kinds and
// other namespaces pass (conformance: "should validate against a Deployment").
func TestValidatingAdmissionPolicyDeployment(t *testing.T) {
	_, cs := startClient(t)
	ctx := testCtx(t)
	vapNamespace(t, ctx, cs, "vap-deploy")
	vapNamespace(t, ctx, cs, "vap-other")
	p := deploymentPolicy("replicas.example.com", "vap-deploy",
		admissionregistrationv1.Validation{Expression: "object.spec.replicas > 1", MessageExpression: "'wants replicas > 1, got ' + string(object.spec.replicas)"},
		admissionregistrationv1.Validation{Expression: "namespaceObject.metadata.name == 'vap-deploy'", Message: "Internal error! Other namespace should not be allowed."})
	createPolicy(t, ctx, cs, p, vapBinding("replicas-binding.example.com", p.Name, "vap-deploy", admissionregistrationv1.Deny))

	err := waitDenied(t, ctx, cs, "vap-deploy", basicDeployment("marker", 1, nil))
	want := "ValidatingAdmissionPolicy 'replicas.example.com' with binding 'replicas-binding.example.com' denied request: wants replicas > 1, got 1"
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("denial = %v, want a 422 with %q", err, want)
	}
	if _, err := cs.AppsV1().Deployments("vap-deploy").Get(ctx, "marker", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the denied Deployment was stored: %v", err)
	}
	if _, err := cs.AppsV1().Deployments("vap-deploy").Create(ctx, basicDeployment("replicated", 2, nil), metav1.CreateOptions{}); err != nil {
		t.Errorf("a replicated Deployment: %v", err)
	}
	// An update is matched too.
	d, _ := cs.AppsV1().Deployments("vap-deploy").Get(ctx, "replicated", metav1.GetOptions{})
	d.Spec.Replicas = ptr.To[int32](1)
	if _, err := cs.AppsV1().Deployments("vap-deploy").Update(ctx, d, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("update to 1 replica: %v", err)
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "non-replicated"}, Spec: appsv1.ReplicaSetSpec{
		Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
		Template: basicDeployment("x", 1, nil).Spec.Template}}
	if _, err := cs.AppsV1().ReplicaSets("vap-deploy").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Errorf("a ReplicaSet is not matched: %v", err)
	}
	if _, err := cs.AppsV1().Deployments("vap-other").Create(ctx, basicDeployment("single", 1, nil), metav1.CreateOptions{}); err != nil {
		t.Errorf("a namespace the selectors do not match: %v", err)
	}
}

// warningCollector is client-go's WarningHandler keeping what it is given.
type warningCollector struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningCollector) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	w.msgs = append(w.msgs, text)
	w.mu.Unlock()
}

func (w *warningCollector) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// A binding with Warn (and Audit) lets the request through with the failure as a Warning
// header, in Kubernetes' words; failurePolicy Ignore lets a failing expression through,
// Fail denies.
func TestValidatingAdmissionPolicyWarn(t *testing.T) {
	logs := &logtest.Buffer{}
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	cs := clientFor(t, srv.Config)
	ctx := testCtx(t)
	warns := &warningCollector{}
	cfg := rest.CopyConfig(srv.Config)
	cfg.WarningHandler = warns
	wcs := clientFor(t, cfg)
	vapNamespace(t, ctx, cs, "vap-warn")
	p := deploymentPolicy("warn.example.com", "vap-warn",
		admissionregistrationv1.Validation{Expression: "object.spec.replicas <= 3", Message: "at most 3 replicas"})
	createPolicy(t, ctx, cs, p, vapBinding("warn-binding", p.Name, "vap-warn", admissionregistrationv1.Warn, admissionregistrationv1.Audit))

	want := "Validation failed for ValidatingAdmissionPolicy 'warn.example.com' with binding 'warn-binding': at most 3 replicas"
	retryUntil(t, ctx, "the Warn action", func() error {
		_ = wcs.AppsV1().Deployments("vap-warn").Delete(ctx, "big", metav1.DeleteOptions{})
		warns.take()
		if _, err := wcs.AppsV1().Deployments("vap-warn").Create(ctx, basicDeployment("big", 5, nil), metav1.CreateOptions{}); err != nil {
			t.Fatalf("a Warn binding denied: %v", err)
		}
		for _, m := range warns.take() {
			if m == want {
				return nil
			}
		}
		return errNotYet
	})
	// Audit: the validation failure goes to the server's log, as the audit annotation
	// kube-apiserver would write into the request's audit event.
	wantLog := `msg="admission audit annotation" key=validation.policy.admission.k8s.io/validation_failure value="[{\"message\":\"at most 3 replicas\",\"policy\":\"warn.example.com\",\"binding\":\"warn-binding\",\"expressionIndex\":0,\"validationActions\":[\"Warn\",\"Audit\"]}]" user=admin verb=CREATE resource=deployments.apps subresource="" namespace=vap-warn name=big`
	if !strings.Contains(logs.String(), wantLog) {
		t.Errorf("the audit annotation is not in the log %q", logs.String())
	}
	if _, err := wcs.AppsV1().Deployments("vap-warn").Create(ctx, basicDeployment("small", 2, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := warns.take(); len(got) != 0 {
		t.Errorf("warnings for a valid Deployment: %q", got)
	}

	// failurePolicy: an expression failing at run time (no such label).
	for _, fp := range []admissionregistrationv1.FailurePolicyType{admissionregistrationv1.Ignore, admissionregistrationv1.Fail} {
		name := "fp-" + strings.ToLower(string(fp))
		vapNamespace(t, ctx, cs, name)
		p := deploymentPolicy(name+".example.com", name, admissionregistrationv1.Validation{Expression: "object.metadata.labels['missing'] == 'x'"})
		p.Spec.FailurePolicy = ptr.To(fp)
		createPolicy(t, ctx, cs, p, vapBinding(name, p.Name, name, admissionregistrationv1.Deny))
		// A marker policy in the same namespace says when the bindings are in force.
		m := deploymentPolicy(name+"-marker.example.com", name, admissionregistrationv1.Validation{Expression: "object.metadata.name != 'marker'"})
		createPolicy(t, ctx, cs, m, vapBinding(name+"-marker", m.Name, name, admissionregistrationv1.Deny))
		waitDenied(t, ctx, cs, name, basicDeployment("marker", 1, nil))
		_, err := cs.AppsV1().Deployments(name).Create(ctx, basicDeployment("d", 1, map[string]string{"other": "y"}), metav1.CreateOptions{})
		switch fp {
		case admissionregistrationv1.Ignore:
			if err != nil {
				t.Errorf("failurePolicy Ignore: %v", err)
			}
		case admissionregistrationv1.Fail:
			if err == nil || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'fp-fail.example.com' with binding 'fp-fail' denied request: expression 'object.metadata.labels['missing'] == 'x'' resulted in error") {
				t.Errorf("failurePolicy Fail: %v", err)
			}
		}
	}
}

// A policy with paramKind ConfigMap takes its limit from the ConfigMap the binding names (in
// the request's namespace), or from those its selector matches; parameterNotFoundAction
// decides what a missing parameter means.
func TestValidatingAdmissionPolicyParams(t *testing.T) {
	_, cs := startClient(t)
	ctx := testCtx(t)
	vapNamespace(t, ctx, cs, "vap-params")
	p := deploymentPolicy("params.example.com", "vap-params", admissionregistrationv1.Validation{
		Expression:        "object.spec.replicas <= int(params.data.maxReplicas)",
		MessageExpression: "'at most ' + params.data.maxReplicas + ' replicas'",
	})
	p.Spec.ParamKind = &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}
	b := vapBinding("params-binding", p.Name, "vap-params", admissionregistrationv1.Deny)
	b.Spec.ParamRef = &admissionregistrationv1.ParamRef{Name: "limits",
		ParameterNotFoundAction: ptr.To(admissionregistrationv1.DenyAction)}
	createPolicy(t, ctx, cs, p, b)

	// No ConfigMap yet: denied.
	err := waitDenied(t, ctx, cs, "vap-params", basicDeployment("one", 1, nil))
	if !strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'params.example.com' with binding 'params-binding' denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction") {
		t.Fatalf("without the param: %v", err)
	}
	limits := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "limits"}, Data: map[string]string{"maxReplicas": "3"}}
	if _, err := cs.CoreV1().ConfigMaps("vap-params").Create(ctx, limits, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	retryUntil(t, ctx, "the param read", func() error {
		_, err := cs.AppsV1().Deployments("vap-params").Create(ctx, basicDeployment("two", 2, nil), metav1.CreateOptions{})
		return err
	})
	_, err = cs.AppsV1().Deployments("vap-params").Create(ctx, basicDeployment("five", 5, nil), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "denied request: at most 3 replicas") {
		t.Errorf("above the param's limit: %v", err)
	}

	// A selector with Allow: no matching ConfigMap lets requests through; each one matching
	// is checked.
	vapNamespace(t, ctx, cs, "vap-selector")
	p2 := deploymentPolicy("selector.example.com", "vap-selector", p.Spec.Validations...)
	p2.Spec.ParamKind = p.Spec.ParamKind
	b2 := vapBinding("selector-binding", p2.Name, "vap-selector", admissionregistrationv1.Deny)
	b2.Spec.ParamRef = &admissionregistrationv1.ParamRef{Namespace: "vap-selector",
		Selector:                &metav1.LabelSelector{MatchLabels: map[string]string{"limit": "replicas"}},
		ParameterNotFoundAction: ptr.To(admissionregistrationv1.AllowAction)}
	createPolicy(t, ctx, cs, p2, b2)
	for i, max := range []string{"4", "2"} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "limit-" + max, Labels: map[string]string{"limit": "replicas"}},
			Data: map[string]string{"maxReplicas": max}}
		if i == 0 {
			// Before any matches: allowed.
			if _, err := cs.AppsV1().Deployments("vap-selector").Create(ctx, basicDeployment("free", 9, nil), metav1.CreateOptions{}); err != nil {
				t.Errorf("no param with Allow: %v", err)
			}
		}
		if _, err := cs.CoreV1().ConfigMaps("vap-selector").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	err = waitDenied(t, ctx, cs, "vap-selector", basicDeployment("three", 3, nil))
	if !strings.Contains(err.Error(), "denied request: at most 2 replicas") {
		t.Errorf("the smaller of two params: %v", err)
	}
}

// Variables are computed once and read by the validations (conformance: "should allow
// expressions to refer variables"); matchConditions keep requests away from a policy.
func TestValidatingAdmissionPolicyVariablesAndMatchConditions(t *testing.T) {
	_, cs := startClient(t)
	ctx := testCtx(t)
	vapNamespace(t, ctx, cs, "vap-vars")
	p := deploymentPolicy("vars.example.com", "vap-vars",
		admissionregistrationv1.Validation{Expression: "variables.replicas > 1"},
		admissionregistrationv1.Validation{Expression: "variables.oddReplicas"})
	p.Spec.Variables = []admissionregistrationv1.Variable{
		{Name: "replicas", Expression: "object.spec.replicas"},
		{Name: "oddReplicas", Expression: "variables.replicas % 2 == 1"},
	}
	p.Spec.MatchConditions = []admissionregistrationv1.MatchCondition{{
		Name: "not-exempt", Expression: "!has(object.metadata.labels) || !('exempt' in object.metadata.labels)",
	}}
	createPolicy(t, ctx, cs, p, vapBinding("vars-binding", p.Name, "vap-vars", admissionregistrationv1.Deny))

	err := waitDenied(t, ctx, cs, "vap-vars", basicDeployment("marker", 1, nil))
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'vars.example.com' with binding 'vars-binding' denied request: failed expression: variables.replicas > 1") {
		t.Fatalf("1 replica: %v", err)
	}
	_, err = cs.AppsV1().Deployments("vap-vars").Create(ctx, basicDeployment("even", 2, nil), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "failed expression: variables.oddReplicas") {
		t.Errorf("2 replicas: %v", err)
	}
	if _, err := cs.AppsV1().Deployments("vap-vars").Create(ctx, basicDeployment("replicated", 3, nil), metav1.CreateOptions{}); err != nil {
		t.Errorf("3 replicas: %v", err)
	}
	if _, err := cs.AppsV1().Deployments("vap-vars").Create(ctx, basicDeployment("exempt", 1, map[string]string{"exempt": "yes"}), metav1.CreateOptions{}); err != nil {
		t.Errorf("a Deployment the match condition leaves out: %v", err)
	}
}

// The type checker writes status.typeChecking of each policy: no warnings for a sound one,
// one per confused expression with Kubernetes' field path and CEL's message (conformance:
// "should type check validation expressions").
func TestValidatingAdmissionPolicyTypeChecking(t *testing.T) {
	_, cs := startClient(t)
	ctx := testCtx(t)
	policies := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies()
	checked := func(name string) *admissionregistrationv1.ValidatingAdmissionPolicy {
		t.Helper()
		var p *admissionregistrationv1.ValidatingAdmissionPolicy
		retryUntil(t, ctx, "type checking of "+name, func() error {
			var err error
			if p, err = policies.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return err
			}
			if p.Status.TypeChecking == nil {
				return errNotYet
			}
			return nil
		})
		return p
	}
	createPolicy(t, ctx, cs, deploymentPolicy("correct.example.com", "x", admissionregistrationv1.Validation{Expression: "object.spec.replicas > 1"}), nil)
	if p := checked("correct.example.com"); len(p.Status.TypeChecking.ExpressionWarnings) != 0 || p.Status.ObservedGeneration != p.Generation {
		t.Errorf("a sound policy: %+v", p.Status)
	}
	createPolicy(t, ctx, cs, deploymentPolicy("confused.example.com", "x", admissionregistrationv1.Validation{
		Expression:        "object.spec.replicas > '1'",
		MessageExpression: "'wants replicas > 1, got ' + object.spec.replicas",
	}), nil)
	p := checked("confused.example.com")
	w := p.Status.TypeChecking.ExpressionWarnings
	if len(w) != 2 ||
		w[0].FieldRef != "spec.validations[0].expression" || !strings.Contains(w[0].Warning, "found no matching overload for '_>_' applied to '(int, string)'") ||
		w[1].FieldRef != "spec.validations[0].messageExpression" || !strings.Contains(w[1].Warning, "found no matching overload for '_+_' applied to '(string, int)'") {
		t.Errorf("warnings = %+v", w)
	}
	// A change of the spec is checked again.
	p.Spec.Validations = []admissionregistrationv1.Validation{{Expression: "object.spec.replicas > 1"}}
	if _, err := policies.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	retryUntil(t, ctx, "checking the new generation", func() error {
		p, err := policies.Get(ctx, "confused.example.com", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.ObservedGeneration != p.Generation || p.Status.TypeChecking == nil || len(p.Status.TypeChecking.ExpressionWarnings) != 0 {
			return errNotYet
		}
		return nil
	})
}

// The policies and bindings support every operation the conformance tests use: discovery
// (with validatingadmissionpolicies/status), create with generateName, get, list and watch
// by label, merge patch, update, the status subresource (get, patch, update), delete and
// deletecollection (conformance: "should support ValidatingAdmissionPolicy API operations",
// "... ValidatingAdmissionPolicyBinding API operations").
func TestValidatingAdmissionPolicyAPIOperations(t *testing.T) {
	srv, cs := startClient(t)
	ctx := testCtx(t)
	resources, err := cs.Discovery().ServerResourcesForGroupVersion("admissionregistration.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, r := range resources.APIResources {
		found[r.Name] = true
	}
	for _, name := range []string{"validatingadmissionpolicies", "validatingadmissionpolicies/status", "validatingadmissionpolicybindings"} {
		if !found[name] {
			t.Errorf("discovery lacks %s: %v", name, found)
		}
	}

	policies := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies()
	label := "e2e-vap-label=x"
	tmpl := deploymentPolicy("", "x", admissionregistrationv1.Validation{Expression: "object.spec.replicas <= 100"})
	tmpl.GenerateName, tmpl.Labels = "e2e-example-vap-", map[string]string{"e2e-vap-label": "x"}
	var created *admissionregistrationv1.ValidatingAdmissionPolicy
	for i := 0; i < 3; i++ {
		if created, err = policies.Create(ctx, tmpl, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if created.Generation != 1 || *created.Spec.FailurePolicy != admissionregistrationv1.Fail ||
		*created.Spec.MatchConstraints.MatchPolicy != admissionregistrationv1.Equivalent ||
		*created.Spec.MatchConstraints.ResourceRules[0].Scope != admissionregistrationv1.AllScopes {
		t.Errorf("defaults: %+v", created)
	}
	list, err := policies.List(ctx, metav1.ListOptions{LabelSelector: label})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("list: %v %v", list, err)
	}
	w, err := policies.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: label})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	patched, err := policies.Patch(ctx, created.Name, "application/merge-patch+json",
		[]byte(`{"metadata":{"annotations":{"patched":"true"}},"spec":{"failurePolicy":"Ignore"}}`), metav1.PatchOptions{})
	if err != nil || patched.Annotations["patched"] != "true" || *patched.Spec.FailurePolicy != admissionregistrationv1.Ignore || patched.Generation != 2 {
		t.Fatalf("patch: %+v %v", patched, err)
	}
	evt := <-w.ResultChan()
	if got, ok := evt.Object.(*admissionregistrationv1.ValidatingAdmissionPolicy); evt.Type != "MODIFIED" || !ok || got.Annotations["patched"] != "true" {
		t.Errorf("watch event %s %T", evt.Type, evt.Object)
	}
	patched.Spec.FailurePolicy = ptr.To(admissionregistrationv1.Fail)
	if _, err := policies.Update(ctx, patched, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}

	dyn := dynamic.NewForConfigOrDie(srv.Config)
	st, err := dyn.Resource(admissionregistrationv1.SchemeGroupVersion.WithResource("validatingadmissionpolicies")).
		Get(ctx, created.Name, metav1.GetOptions{}, "status")
	if err != nil || st.GetKind() != "ValidatingAdmissionPolicy" || st.GetUID() != created.UID {
		t.Fatalf("get status: %v %v", st, err)
	}
	sp, err := policies.Patch(ctx, created.Name, "application/merge-patch+json",
		[]byte(`{"spec":{"failurePolicy":"Ignore"},"status":{"conditions":[{"type":"PatchStatusFailed","status":"False","reason":"e2e","message":"Set from an e2e test","lastTransitionTime":"2024-01-01T00:00:00Z"}]}}`),
		metav1.PatchOptions{}, "status")
	if err != nil || len(sp.Status.Conditions) == 0 || sp.Status.Conditions[len(sp.Status.Conditions)-1].Type != "PatchStatusFailed" ||
		*sp.Spec.FailurePolicy != admissionregistrationv1.Fail {
		t.Fatalf("patch status (the spec kept): %+v %v", sp, err)
	}
	// The type checker writes the status too: a conflict is retried, as the conformance test does.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := policies.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.Conditions = append(cur.Status.Conditions, metav1.Condition{Type: "StatusUpdateFailed", Status: metav1.ConditionFalse,
			Reason: "E2E", Message: "Set from an e2e test", LastTransitionTime: metav1.Now()})
		sp, err = policies.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil || len(sp.Status.Conditions) != 2 {
		t.Fatalf("update status: %+v %v", sp, err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := policies.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.Conditions = append(cur.Status.Conditions, metav1.Condition{Type: "bad type!", Status: "Maybe"})
		_, err = policies.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if !apierrors.IsInvalid(err) {
		t.Errorf("an invalid condition: %v", err)
	}
	if err := policies.Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := policies.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: label}); err != nil {
		t.Fatal(err)
	}
	if list, _ := policies.List(ctx, metav1.ListOptions{LabelSelector: label}); len(list.Items) != 0 {
		t.Errorf("after deletecollection: %d", len(list.Items))
	}

	bindings := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings()
	b := vapBinding("", "replicalimit-policy.example.com", "x", admissionregistrationv1.Deny)
	b.GenerateName, b.Labels, b.Spec.MatchResources = "e2e-example-vapb-", map[string]string{"e2e-vap-label": "x"}, nil
	for i := 0; i < 3; i++ {
		if _, err := bindings.Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bl, err := bindings.List(ctx, metav1.ListOptions{LabelSelector: label})
	if err != nil || len(bl.Items) != 3 {
		t.Fatalf("list bindings: %v %v", bl, err)
	}
	pb, err := bindings.Patch(ctx, bl.Items[0].Name, "application/merge-patch+json",
		[]byte(`{"metadata":{"annotations":{"patched":"true"}},"spec":{"validationActions":["Warn"]}}`), metav1.PatchOptions{})
	if err != nil || pb.Spec.ValidationActions[0] != admissionregistrationv1.Warn {
		t.Fatalf("patch binding: %+v %v", pb, err)
	}
	pb.Spec.ValidationActions = []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny, admissionregistrationv1.Warn}
	if _, err := bindings.Update(ctx, pb, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "must not contain both Deny and Warn") {
		t.Errorf("Deny and Warn: %v", err)
	}
	if err := bindings.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: label}); err != nil {
		t.Fatal(err)
	}
	if bl, _ := bindings.List(ctx, metav1.ListOptions{LabelSelector: label}); len(bl.Items) != 0 {
		t.Errorf("bindings after deletecollection: %d", len(bl.Items))
	}
}

// Writing a policy with a paramKind needs `get` on all objects of that kind, and a binding
// with a paramRef `get` on the object it names (`list` for a selector), as Kubernetes'
// policy and binding strategies require: a 422 with upstream's message otherwise.
func TestValidatingAdmissionPolicyParamAuthorization(t *testing.T) {
	srv, admin := startClient(t)
	ctx := testCtx(t)
	grant := func(name string, rules ...rbacv1.PolicyRule) {
		t.Helper()
		if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	grant("policy-writer", rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"admissionregistration.k8s.io"},
		Resources: []string{"validatingadmissionpolicies", "validatingadmissionpolicybindings"}})
	alice := impersonating(t, srv, "alice")
	p := deploymentPolicy("params.example.com", "x", admissionregistrationv1.Validation{Expression: "params.data.on == 'yes'"})
	p.Spec.ParamKind = &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}
	_, err := alice.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, p, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.paramKind: Forbidden: user &{alice  [system:authenticated] map[]} must have "get" permission on all objects of the referenced paramKind (kind=ConfigMap, apiVersion=v1)`) {
		t.Fatalf("a policy over ConfigMaps alice cannot read: %v", err)
	}
	grant("configmap-reader", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}})
	retryUntil(t, ctx, "the policy with get on configmaps", func() error {
		_, err := alice.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, p, metav1.CreateOptions{})
		return err
	})
	b := vapBinding("params-binding", p.Name, "x", admissionregistrationv1.Deny)
	b.Spec.ParamRef = &admissionregistrationv1.ParamRef{Namespace: "default",
		Selector: &metav1.LabelSelector{}, ParameterNotFoundAction: ptr.To(admissionregistrationv1.DenyAction)}
	_, err = alice.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.paramRef: Forbidden: user list does not have "&{alice  [system:authenticated] map[]}" permission on the object referenced by paramRef`) {
		t.Fatalf("a binding selecting ConfigMaps alice cannot list: %v", err)
	}
	b.Spec.ParamRef.Selector, b.Spec.ParamRef.Name = nil, "limits"
	if _, err := alice.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Errorf("a binding naming a ConfigMap alice can get: %v", err)
	}
}

// A Warn on a delete arrives as a warning too (request: oldObject; object is null).
func TestValidatingAdmissionPolicyWarnOnDelete(t *testing.T) {
	srv, cs := startClient(t)
	ctx := testCtx(t)
	warns := &warningCollector{}
	cfg := rest.CopyConfig(srv.Config)
	cfg.WarningHandler = warns
	wcs := clientFor(t, cfg)
	vapNamespace(t, ctx, cs, "vap-delete")
	p := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "keep.example.com"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Delete},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "object == null && oldObject.data.keep != 'yes'",
				Message: "this ConfigMap is meant to be kept"}},
		}}
	createPolicy(t, ctx, cs, p, vapBinding("keep-binding", p.Name, "vap-delete", admissionregistrationv1.Warn))
	want := "Validation failed for ValidatingAdmissionPolicy 'keep.example.com' with binding 'keep-binding': this ConfigMap is meant to be kept"
	retryUntil(t, ctx, "the warning on delete", func() error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}, Data: map[string]string{"keep": "yes"}}
		if _, err := cs.CoreV1().ConfigMaps("vap-delete").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return err
		}
		warns.take()
		if err := wcs.CoreV1().ConfigMaps("vap-delete").Delete(ctx, "kept", metav1.DeleteOptions{}); err != nil {
			t.Fatalf("a Warn binding denied a delete: %v", err)
		}
		for _, m := range warns.take() {
			if m == want {
				return nil
			}
		}
		return errNotYet
	})
}

// A policy over a custom resource is type checked against the CRD's schema (the conformance
// suite's "should type check a CRD", not a [Conformance] spec): a confused type and a field
// the schema lacks are warned about.
func TestValidatingAdmissionPolicyTypeCheckingCRD(t *testing.T) {
	srv, cs := startClient(t)
	ctx := testCtx(t)
	createCRD(t, ctx, srv.Config, widgetCRD())
	p := deploymentPolicy("widgets.example.com", "x",
		admissionregistrationv1.Validation{Expression: "object.spec.replicas > '1'"},
		admissionregistrationv1.Validation{Expression: "object.spec.maxRetries < 10"})
	p.Spec.MatchConstraints.ResourceRules[0].Rule = admissionregistrationv1.Rule{APIGroups: []string{"example.com"},
		APIVersions: []string{"v1"}, Resources: []string{"widgets"}}
	createPolicy(t, ctx, cs, p, nil)
	var w []admissionregistrationv1.ExpressionWarning
	retryUntil(t, ctx, "type checking against the CRD", func() error {
		got, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.TypeChecking == nil {
			return errNotYet
		}
		w = got.Status.TypeChecking.ExpressionWarnings
		return nil
	})
	if len(w) != 2 ||
		w[0].FieldRef != "spec.validations[0].expression" || !strings.Contains(w[0].Warning, "found no matching overload for '_>_' applied to '(int, string)'") ||
		w[1].FieldRef != "spec.validations[1].expression" || !strings.Contains(w[1].Warning, "undefined field 'maxRetries'") {
		t.Errorf("warnings = %+v", w)
	}
}
