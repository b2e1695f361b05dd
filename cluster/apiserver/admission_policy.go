package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/generic"
	"k8s.io/apiserver/pkg/admission/plugin/policy/matching"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/cel/environment"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/drover-ci/drover/cluster/registry"
)

// ValidatingAdmissionPolicy is kube-apiserver's own plugin (k8s.io/apiserver's
// admission/plugin/policy/validating over the generic policy plugin): policies and bindings
// read through the server's loopback informers, namespaces from the same factory, parameter
// resources through the typed informers or a dynamic informer, the server's authorizer for
// the `authorizer` CEL variable. It runs after validation and before the validating webhooks,
// as in kube-apiserver's plugin order. Warn sends a Warning header (withWarnings bridges
// k8s.io/apiserver's warning recorder); Audit, for want of an audit log, writes the audit
// annotations kube-apiserver would put in the audit event to the server's log.

// validatingPolicy is the plugin; nil in a server without a loopback client.
type validatingPolicy struct {
	plugin *generic.Plugin[validating.PolicyHook]
	log    *slog.Logger
}

// loopbackRESTMapper maps kinds to resources through the server's discovery (custom
// resources included: an unknown kind resets the cached discovery), as kube-apiserver's
// admission REST mapper does.
func loopbackRESTMapper(cs kubernetes.Interface) meta.RESTMapper {
	return restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery()))
}

// newValidatingPolicy builds the plugin over the loopback clients; stop ends its policy
// source. Its informers are registered on lb.factory, which the caller starts later.
func newValidatingPolicy(s *Server, lb *loopback, mapper meta.RESTMapper, stop <-chan struct{}) (*validatingPolicy, error) {
	dyn, err := dynamic.NewForConfig(lb.cfg)
	if err != nil {
		return nil, err
	}
	// validating.NewPlugin, with the policy compiler run under registry.BuildCEL (it builds
	// CEL compilers, which race with any other build in the process).
	p := generic.NewPlugin(
		admission.NewHandler(admission.Connect, admission.Create, admission.Delete, admission.Update),
		func(f informers.SharedInformerFactory, client kubernetes.Interface, dynamicClient dynamic.Interface, restMapper meta.RESTMapper) generic.Source[validating.PolicyHook] {
			return generic.NewPolicySource(
				f.Admissionregistration().V1().ValidatingAdmissionPolicies().Informer(),
				f.Admissionregistration().V1().ValidatingAdmissionPolicyBindings().Informer(),
				validating.NewValidatingAdmissionPolicyAccessor,
				validating.NewValidatingAdmissionPolicyBindingAccessor,
				compileValidatingPolicy,
				f, dynamicClient, restMapper,
			)
		},
		func(a authorizer.Authorizer, m *matching.Matcher, _ kubernetes.Interface) generic.Dispatcher[validating.PolicyHook] {
			return validating.NewDispatcher(a, generic.NewPolicyMatcher(m))
		},
	)
	p.SetEnabled(true)
	p.SetExternalKubeInformerFactory(lb.factory)
	p.SetExternalKubeClientSet(lb.cs)
	p.SetDynamicClient(dyn)
	p.SetRESTMapper(mapper)
	p.SetAuthorizer(s.authz)
	p.SetDrainedNotification(stop)
	if err := p.ValidateInitialization(); err != nil {
		return nil, fmt.Errorf("validating admission policy: %w", err)
	}
	return &validatingPolicy{plugin: p, log: s.log}, nil
}

var (
	vapEnvOnce     sync.Once
	vapEnvTemplate *plugincel.CompositionEnv
)

// compileValidatingPolicy is validating.compilePolicy (k8s.io/apiserver
// pkg/admission/plugin/policy/validating/plugin.go) with StrictCostEnforcementForVAP on, as
// it is locked in 1.32, run under registry.BuildCEL.
func compileValidatingPolicy(policy *validating.Policy) validating.Validator {
	var v validating.Validator
	registry.BuildCEL(func() { v = compileValidatingPolicyLocked(policy) })
	return v
}

func compileValidatingPolicyLocked(policy *validating.Policy) validating.Validator {
	vapEnvOnce.Do(func() {
		env, err := plugincel.NewCompositionEnv(plugincel.VariablesTypeName, environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion(), true))
		if err != nil {
			panic(err) // as upstream: the base environment is a constant
		}
		vapEnvTemplate = env
	})
	hasParam := policy.Spec.ParamKind != nil
	optionalVars := plugincel.OptionalVariableDeclarations{HasParams: hasParam, HasAuthorizer: true, StrictCost: true}
	expressionOptionalVars := plugincel.OptionalVariableDeclarations{HasParams: hasParam, HasAuthorizer: false, StrictCost: true}
	failurePolicy := policy.Spec.FailurePolicy
	filterCompiler := plugincel.NewCompositedCompilerFromTemplate(vapEnvTemplate)

	variables := make([]plugincel.NamedExpressionAccessor, len(policy.Spec.Variables))
	for i, v := range policy.Spec.Variables {
		variables[i] = &validating.Variable{Name: v.Name, Expression: v.Expression}
	}
	filterCompiler.CompileAndStoreVariables(variables, optionalVars, environment.StoredExpressions)

	var matcher matchconditions.Matcher
	if mcs := policy.Spec.MatchConditions; len(mcs) > 0 {
		accessors := make([]plugincel.ExpressionAccessor, len(mcs))
		for i := range mcs {
			accessors[i] = (*matchconditions.MatchCondition)(&mcs[i])
		}
		matcher = matchconditions.NewMatcher(filterCompiler.CompileCondition(accessors, optionalVars, environment.StoredExpressions),
			failurePolicy, "policy", "validate", policy.Name)
	}
	validations := make([]plugincel.ExpressionAccessor, len(policy.Spec.Validations))
	messages := make([]plugincel.ExpressionAccessor, len(policy.Spec.Validations))
	for i, v := range policy.Spec.Validations {
		validations[i] = &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason}
		if v.MessageExpression != "" {
			messages[i] = &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}
		}
	}
	audits := make([]plugincel.ExpressionAccessor, len(policy.Spec.AuditAnnotations))
	for i, a := range policy.Spec.AuditAnnotations {
		audits[i] = &validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression}
	}
	return validating.NewValidator(
		filterCompiler.CompileCondition(validations, optionalVars, environment.StoredExpressions),
		matcher,
		filterCompiler.CompileCondition(audits, optionalVars, environment.StoredExpressions),
		filterCompiler.CompileCondition(messages, expressionOptionalVars, environment.StoredExpressions),
		failurePolicy,
	)
}

// validate runs the policies bound to the request. The audit annotations they add (Audit's
// validation failures, auditAnnotations) go to the server's log.
func (v *validatingPolicy) validate(ctx context.Context, attrs admission.Attributes, o admission.ObjectInterfaces) error {
	if v == nil || !v.plugin.Handles(attrs.GetOperation()) {
		return nil
	}
	rec := &auditAnnotations{Attributes: attrs}
	err := v.plugin.Dispatch(ctx, rec, o)
	rec.log(ctx, v.log)
	return err
}

// auditAnnotations records the annotations an admission plugin adds to a request's audit
// event (kube-apiserver's audit log; drover logs them).
type auditAnnotations struct {
	admission.Attributes
	mu   sync.Mutex
	keys []string
	vals []string
}

func (a *auditAnnotations) AddAnnotation(key, value string) error {
	if err := a.Attributes.AddAnnotation(key, value); err != nil {
		return err
	}
	a.mu.Lock()
	a.keys, a.vals = append(a.keys, key), append(a.vals, value)
	a.mu.Unlock()
	return nil
}

func (a *auditAnnotations) log(ctx context.Context, log *slog.Logger) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.keys) == 0 || log == nil {
		return
	}
	u := ""
	if ui, ok := genericrequest.UserFrom(ctx); ok {
		u = ui.GetName()
	}
	gvr := a.GetResource()
	for i, k := range a.keys {
		log.Info("admission audit annotation", "key", k, "value", a.vals[i], "user", u, "verb", string(a.GetOperation()),
			"resource", gvr.GroupResource().String(), "subresource", a.GetSubresource(), "namespace", a.GetNamespace(), "name", a.GetName())
	}
}
