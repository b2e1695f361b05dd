package registry

import (
	"fmt"
	"strings"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/utils/ptr"
)

// AdmissionRegistrationGroup is the admissionregistration.k8s.io API group:
// ValidatingWebhookConfigurations and MutatingWebhookConfigurations. The registry stores and
// validates them; calling the webhooks they register is the API server's admission.
const AdmissionRegistrationGroup = admissionregistrationv1.GroupName

// validatingWebhookConfigurationResource describes the admissionregistration.k8s.io/v1
// validatingwebhookconfigurations resource, with Kubernetes 1.32's defaults and validation
// (pkg/apis/admissionregistration/v1/defaults.go and validation/validation.go).
func validatingWebhookConfigurationResource() *Resource {
	return &Resource{
		Group: AdmissionRegistrationGroup, Version: "v1", Resource: "validatingwebhookconfigurations",
		Kind: "ValidatingWebhookConfiguration", SingularName: "validatingwebhookconfiguration",
		Categories: []string{"api-extensions"},
		New:        func() runtime.Object { return &admissionregistrationv1.ValidatingWebhookConfiguration{} },
		NewList:    func() runtime.Object { return &admissionregistrationv1.ValidatingWebhookConfigurationList{} },
		Default: func(obj runtime.Object) {
			vwcDefault(obj.(*admissionregistrationv1.ValidatingWebhookConfiguration))
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			c := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration)
			return admValidateWebhooks(vwcHooks(c), admCreateOptions)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, o := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration), old.(*admissionregistrationv1.ValidatingWebhookConfiguration)
			nh, oh := vwcHooks(n), vwcHooks(o)
			return admValidateWebhooks(nh, admUpdateOptions(nh, oh))
		},
		Table: admWebhookTable(func(obj runtime.Object) (metav1.ObjectMeta, int, bool) {
			c, ok := obj.(*admissionregistrationv1.ValidatingWebhookConfiguration)
			if !ok {
				return metav1.ObjectMeta{}, 0, false
			}
			return c.ObjectMeta, len(c.Webhooks), true
		}),
	}
}

// mutatingWebhookConfigurationResource describes the admissionregistration.k8s.io/v1
// mutatingwebhookconfigurations resource, as validatingWebhookConfigurationResource.
func mutatingWebhookConfigurationResource() *Resource {
	return &Resource{
		Group: AdmissionRegistrationGroup, Version: "v1", Resource: "mutatingwebhookconfigurations",
		Kind: "MutatingWebhookConfiguration", SingularName: "mutatingwebhookconfiguration",
		Categories: []string{"api-extensions"},
		New:        func() runtime.Object { return &admissionregistrationv1.MutatingWebhookConfiguration{} },
		NewList:    func() runtime.Object { return &admissionregistrationv1.MutatingWebhookConfigurationList{} },
		Default: func(obj runtime.Object) {
			mwcDefault(obj.(*admissionregistrationv1.MutatingWebhookConfiguration))
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			c := obj.(*admissionregistrationv1.MutatingWebhookConfiguration)
			return admValidateWebhooks(mwcHooks(c), admCreateOptions)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, o := obj.(*admissionregistrationv1.MutatingWebhookConfiguration), old.(*admissionregistrationv1.MutatingWebhookConfiguration)
			nh, oh := mwcHooks(n), mwcHooks(o)
			return admValidateWebhooks(nh, admUpdateOptions(nh, oh))
		},
		Table: admWebhookTable(func(obj runtime.Object) (metav1.ObjectMeta, int, bool) {
			c, ok := obj.(*admissionregistrationv1.MutatingWebhookConfiguration)
			if !ok {
				return metav1.ObjectMeta{}, 0, false
			}
			return c.ObjectMeta, len(c.Webhooks), true
		}),
	}
}

// vwcDefault is Kubernetes' SetObjectDefaults_ValidatingWebhookConfiguration: each webhook
// gets SetDefaults_ValidatingWebhook, its service SetDefaults_ServiceReference and its rules
// SetDefaults_Rule. sideEffects has no default in v1.
func vwcDefault(c *admissionregistrationv1.ValidatingWebhookConfiguration) {
	for i := range c.Webhooks {
		h := &c.Webhooks[i]
		admDefaultCommon(&h.FailurePolicy, &h.MatchPolicy, &h.NamespaceSelector, &h.ObjectSelector, &h.TimeoutSeconds)
		admDefaultClientConfigAndRules(&h.ClientConfig, h.Rules)
	}
}

// mwcDefault is Kubernetes' SetObjectDefaults_MutatingWebhookConfiguration: as vwcDefault,
// and reinvocationPolicy Never.
func mwcDefault(c *admissionregistrationv1.MutatingWebhookConfiguration) {
	for i := range c.Webhooks {
		h := &c.Webhooks[i]
		admDefaultCommon(&h.FailurePolicy, &h.MatchPolicy, &h.NamespaceSelector, &h.ObjectSelector, &h.TimeoutSeconds)
		if h.ReinvocationPolicy == nil {
			h.ReinvocationPolicy = ptr.To(admissionregistrationv1.NeverReinvocationPolicy)
		}
		admDefaultClientConfigAndRules(&h.ClientConfig, h.Rules)
	}
}

// admDefaultCommon is what SetDefaults_ValidatingWebhook and SetDefaults_MutatingWebhook share:
// failurePolicy Fail, matchPolicy Equivalent, empty (match-everything) namespace and object
// selectors, timeoutSeconds 10.
func admDefaultCommon(fp **admissionregistrationv1.FailurePolicyType, mp **admissionregistrationv1.MatchPolicyType,
	nsSel, objSel **metav1.LabelSelector, timeout **int32) {
	if *fp == nil {
		*fp = ptr.To(admissionregistrationv1.Fail)
	}
	if *mp == nil {
		*mp = ptr.To(admissionregistrationv1.Equivalent)
	}
	if *nsSel == nil {
		*nsSel = &metav1.LabelSelector{}
	}
	if *objSel == nil {
		*objSel = &metav1.LabelSelector{}
	}
	if *timeout == nil {
		*timeout = ptr.To[int32](10)
	}
}

// admDefaultClientConfigAndRules: SetDefaults_ServiceReference (port 443) and SetDefaults_Rule
// (scope "*") for one webhook.
func admDefaultClientConfigAndRules(cc *admissionregistrationv1.WebhookClientConfig, rules []admissionregistrationv1.RuleWithOperations) {
	if s := cc.Service; s != nil && s.Port == nil {
		s.Port = ptr.To[int32](443)
	}
	for i := range rules {
		if rules[i].Scope == nil {
			rules[i].Scope = ptr.To(admissionregistrationv1.AllScopes)
		}
	}
}

// admHook is the part of a ValidatingWebhook or MutatingWebhook the validation reads (the
// two types share these fields; reinvocationPolicy is the mutating webhook's only).
type admHook struct {
	Name                    string
	ClientConfig            admissionregistrationv1.WebhookClientConfig
	Rules                   []admissionregistrationv1.RuleWithOperations
	FailurePolicy           *admissionregistrationv1.FailurePolicyType
	MatchPolicy             *admissionregistrationv1.MatchPolicyType
	NamespaceSelector       *metav1.LabelSelector
	ObjectSelector          *metav1.LabelSelector
	SideEffects             *admissionregistrationv1.SideEffectClass
	TimeoutSeconds          *int32
	AdmissionReviewVersions []string
	MatchConditions         []admissionregistrationv1.MatchCondition
	Mutating                bool
	ReinvocationPolicy      *admissionregistrationv1.ReinvocationPolicyType
}

func vwcHooks(c *admissionregistrationv1.ValidatingWebhookConfiguration) []admHook {
	hooks := make([]admHook, len(c.Webhooks))
	for i, h := range c.Webhooks {
		hooks[i] = admHook{
			Name: h.Name, ClientConfig: h.ClientConfig, Rules: h.Rules, FailurePolicy: h.FailurePolicy,
			MatchPolicy: h.MatchPolicy, NamespaceSelector: h.NamespaceSelector, ObjectSelector: h.ObjectSelector,
			SideEffects: h.SideEffects, TimeoutSeconds: h.TimeoutSeconds,
			AdmissionReviewVersions: h.AdmissionReviewVersions, MatchConditions: h.MatchConditions,
		}
	}
	return hooks
}

func mwcHooks(c *admissionregistrationv1.MutatingWebhookConfiguration) []admHook {
	hooks := make([]admHook, len(c.Webhooks))
	for i, h := range c.Webhooks {
		hooks[i] = admHook{
			Name: h.Name, ClientConfig: h.ClientConfig, Rules: h.Rules, FailurePolicy: h.FailurePolicy,
			MatchPolicy: h.MatchPolicy, NamespaceSelector: h.NamespaceSelector, ObjectSelector: h.ObjectSelector,
			SideEffects: h.SideEffects, TimeoutSeconds: h.TimeoutSeconds,
			AdmissionReviewVersions: h.AdmissionReviewVersions, MatchConditions: h.MatchConditions,
			Mutating: true, ReinvocationPolicy: h.ReinvocationPolicy,
		}
	}
	return hooks
}

// admOptions is upstream's validationOptions for webhook configurations: on update, what the
// stored configuration already breaks is not held against it ("ratcheting").
type admOptions struct {
	ignoreMatchConditions                   bool
	preexistingExpressions                  sets.Set[string] // the stored match condition expressions
	requireNoSideEffects                    bool
	requireRecognizedAdmissionReviewVersion bool
	requireUniqueWebhookNames               bool
	allowInvalidLabelValueInSelector        bool
	allowParams                             bool // a policy with a paramKind: params in match conditions
}

// admCreateOptions are ValidateValidatingWebhookConfiguration's (and the mutating one's).
var admCreateOptions = admOptions{
	requireNoSideEffects:                    true,
	requireRecognizedAdmissionReviewVersion: true,
	requireUniqueWebhookNames:               true,
}

// admUpdateOptions are ValidateValidatingWebhookConfigurationUpdate's (and the mutating
// one's): match conditions unchanged are not validated again; sideEffects Unknown or Some,
// admission review versions none of which is accepted, duplicate webhook names and invalid
// label values in selectors stay allowed when the stored configuration has them.
func admUpdateOptions(hooks, old []admHook) admOptions {
	opts := admOptions{
		ignoreMatchConditions:                   len(hooks) == len(old),
		preexistingExpressions:                  sets.New[string](),
		requireNoSideEffects:                    true,
		requireRecognizedAdmissionReviewVersion: true,
		requireUniqueWebhookNames:               true,
	}
	if opts.ignoreMatchConditions {
		for i := range old {
			if !admEqualMatchConditions(hooks[i].MatchConditions, old[i].MatchConditions) {
				opts.ignoreMatchConditions = false
				break
			}
		}
	}
	names := sets.New[string]()
	strict := metav1validation.LabelSelectorValidationOptions{}
	for _, h := range old {
		for _, mc := range h.MatchConditions {
			opts.preexistingExpressions.Insert(mc.Expression)
		}
		if h.SideEffects == nil || !admNoSideEffectClasses.Has(string(*h.SideEffects)) {
			opts.requireNoSideEffects = false
		}
		if len(h.AdmissionReviewVersions) > 0 && !admHasAcceptedVersion(h.AdmissionReviewVersions) {
			opts.requireRecognizedAdmissionReviewVersion = false
		}
		if names.Has(h.Name) {
			opts.requireUniqueWebhookNames = false
		}
		names.Insert(h.Name)
		if h.NamespaceSelector != nil && len(metav1validation.ValidateLabelSelector(h.NamespaceSelector, strict, nil)) > 0 ||
			h.ObjectSelector != nil && len(metav1validation.ValidateLabelSelector(h.ObjectSelector, strict, nil)) > 0 {
			opts.allowInvalidLabelValueInSelector = true
		}
	}
	return opts
}

// admEqualMatchConditions is upstream's reflect.DeepEqual of two webhooks' match conditions
// (nil and empty differ, as there).
func admEqualMatchConditions(a, b []admissionregistrationv1.MatchCondition) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Upstream's sets of supported values (their sorted lists are the "supported values" of the
// NotSupported messages).
var (
	admSupportedFailurePolicies = sets.New(string(admissionregistrationv1.Ignore), string(admissionregistrationv1.Fail))
	admSupportedMatchPolicies   = sets.New(string(admissionregistrationv1.Exact), string(admissionregistrationv1.Equivalent))
	admSupportedSideEffects     = sets.New(
		string(admissionregistrationv1.SideEffectClassUnknown), string(admissionregistrationv1.SideEffectClassNone),
		string(admissionregistrationv1.SideEffectClassSome), string(admissionregistrationv1.SideEffectClassNoneOnDryRun))
	admNoSideEffectClasses = sets.New(
		string(admissionregistrationv1.SideEffectClassNone), string(admissionregistrationv1.SideEffectClassNoneOnDryRun))
	admSupportedOperations = sets.New(
		string(admissionregistrationv1.OperationAll), string(admissionregistrationv1.Create), string(admissionregistrationv1.Update),
		string(admissionregistrationv1.Delete), string(admissionregistrationv1.Connect))
	admSupportedReinvocationPolicies = sets.New(
		string(admissionregistrationv1.NeverReinvocationPolicy), string(admissionregistrationv1.IfNeededReinvocationPolicy))
	admValidScopes = sets.New(
		string(admissionregistrationv1.ClusterScope), string(admissionregistrationv1.NamespacedScope), string(admissionregistrationv1.AllScopes))
)

// admAcceptedAdmissionReviewVersions is upstream's AcceptedAdmissionReviewVersions.
var admAcceptedAdmissionReviewVersions = []string{"v1", "v1beta1"}

// admMaxMatchConditions is upstream's limit on a webhook's match conditions.
const admMaxMatchConditions = 64

func admHasAcceptedVersion(versions []string) bool {
	for _, v := range versions {
		for _, a := range admAcceptedAdmissionReviewVersions {
			if v == a {
				return true
			}
		}
	}
	return false
}

// admValidateWebhooks is upstream's validate{Validating,Mutating}WebhookConfiguration without
// the metadata (the server validates it): each webhook, its admission review versions, and
// unique webhook names.
func admValidateWebhooks(hooks []admHook, opts admOptions) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i := range hooks {
		h := &hooks[i]
		p := field.NewPath("webhooks").Index(i)
		errs = append(errs, admValidateWebhook(h, opts, p)...)
		errs = append(errs, admValidateAdmissionReviewVersions(h.AdmissionReviewVersions, opts.requireRecognizedAdmissionReviewVersion, p.Child("admissionReviewVersions"))...)
		if opts.requireUniqueWebhookNames && h.Name != "" {
			if names.Has(h.Name) {
				errs = append(errs, field.Duplicate(p.Child("name"), h.Name))
			} else {
				names.Insert(h.Name)
			}
		}
	}
	return errs
}

// admValidateWebhook is upstream's validateValidatingWebhook and validateMutatingWebhook.
func admValidateWebhook(h *admHook, opts admOptions, p *field.Path) field.ErrorList {
	errs := validation.IsFullyQualifiedName(p.Child("name"), h.Name)
	for i := range h.Rules {
		errs = append(errs, admValidateRuleWithOperations(&h.Rules[i], p.Child("rules").Index(i))...)
	}
	if h.FailurePolicy != nil && !admSupportedFailurePolicies.Has(string(*h.FailurePolicy)) {
		errs = append(errs, field.NotSupported(p.Child("failurePolicy"), *h.FailurePolicy, sets.List(admSupportedFailurePolicies)))
	}
	if h.MatchPolicy != nil && !admSupportedMatchPolicies.Has(string(*h.MatchPolicy)) {
		errs = append(errs, field.NotSupported(p.Child("matchPolicy"), *h.MatchPolicy, sets.List(admSupportedMatchPolicies)))
	}
	allowedSideEffects := admSupportedSideEffects
	if opts.requireNoSideEffects {
		allowedSideEffects = admNoSideEffectClasses
	}
	if h.SideEffects == nil {
		errs = append(errs, field.Required(p.Child("sideEffects"), fmt.Sprintf("must specify one of %v", strings.Join(sets.List(allowedSideEffects), ", "))))
	} else if !allowedSideEffects.Has(string(*h.SideEffects)) {
		errs = append(errs, field.NotSupported(p.Child("sideEffects"), *h.SideEffects, sets.List(allowedSideEffects)))
	}
	if t := h.TimeoutSeconds; t != nil && (*t > 30 || *t < 1) {
		errs = append(errs, field.Invalid(p.Child("timeoutSeconds"), *t, "the timeout value must be between 1 and 30 seconds"))
	}
	selOpts := metav1validation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: opts.allowInvalidLabelValueInSelector}
	if h.NamespaceSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(h.NamespaceSelector, selOpts, p.Child("namespaceSelector"))...)
	}
	if h.ObjectSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(h.ObjectSelector, selOpts, p.Child("objectSelector"))...)
	}
	if h.Mutating && h.ReinvocationPolicy != nil && !admSupportedReinvocationPolicies.Has(string(*h.ReinvocationPolicy)) {
		errs = append(errs, field.NotSupported(p.Child("reinvocationPolicy"), *h.ReinvocationPolicy, sets.List(admSupportedReinvocationPolicies)))
	}
	cc := h.ClientConfig
	ccp := p.Child("clientConfig")
	switch {
	case (cc.URL == nil) == (cc.Service == nil):
		errs = append(errs, field.Required(ccp, "exactly one of url or service is required"))
	case cc.URL != nil:
		errs = append(errs, webhook.ValidateWebhookURL(ccp.Child("url"), *cc.URL, true)...)
	default:
		// Upstream passes name and namespace in this order to ValidateWebhookService(fldPath,
		// namespace, name, ...), so a missing name is reported at service.namespace and a
		// missing namespace at service.name; kept for the same messages. The port is the
		// internal type's int32 (443 once defaulted).
		s := cc.Service
		errs = append(errs, webhook.ValidateWebhookService(ccp.Child("service"), s.Name, s.Namespace, s.Path, ptr.Deref(s.Port, 0))...)
	}
	if !opts.ignoreMatchConditions {
		errs = append(errs, admValidateMatchConditions(h.MatchConditions, opts, p.Child("matchConditions"))...)
	}
	return errs
}

// admValidateAdmissionReviewVersions is upstream's validateAdmissionReviewVersions: at least
// one version, no duplicates, each a DNS-1035 label, and (unless ratcheted) one of v1, v1beta1.
func admValidateAdmissionReviewVersions(versions []string, requireRecognized bool, p *field.Path) field.ErrorList {
	accepted := strings.Join(admAcceptedAdmissionReviewVersions, ", ")
	if len(versions) < 1 {
		return field.ErrorList{field.Required(p, fmt.Sprintf("must specify one of %v", accepted))}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, v := range versions {
		if seen[v] {
			errs = append(errs, field.Invalid(p.Index(i), v, "duplicate version"))
			continue
		}
		seen[v] = true
		for _, msg := range validation.IsDNS1035Label(v) {
			errs = append(errs, field.Invalid(p.Index(i), v, msg))
		}
	}
	if requireRecognized && !admHasAcceptedVersion(versions) {
		errs = append(errs, field.Invalid(p, versions, fmt.Sprintf("must include at least one of %v", accepted)))
	}
	return errs
}

// admValidateRuleWithOperations is upstream's validateRuleWithOperations: operations
// required, "*" alone, each supported; then the rule, subresources allowed.
func admValidateRuleWithOperations(r *admissionregistrationv1.RuleWithOperations, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	op := p.Child("operations")
	if len(r.Operations) == 0 {
		errs = append(errs, field.Required(op, ""))
	}
	if len(r.Operations) > 1 && admHasWildcard(r.Operations) {
		errs = append(errs, field.Invalid(op, r.Operations, "if '*' is present, must not specify other operations"))
	}
	for i, o := range r.Operations {
		if !admSupportedOperations.Has(string(o)) {
			errs = append(errs, field.NotSupported(op.Index(i), o, sets.List(admSupportedOperations)))
		}
	}
	return append(errs, admValidateRule(&r.Rule, p, true)...)
}

// admValidateRule is upstream's validateRule: API groups and versions required ("*" alone,
// no empty version), resources as validateResources (or validateResourcesNoSubResources),
// a supported scope.
func admValidateRule(r *admissionregistrationv1.Rule, p *field.Path, allowSubResource bool) field.ErrorList {
	var errs field.ErrorList
	if len(r.APIGroups) == 0 {
		errs = append(errs, field.Required(p.Child("apiGroups"), ""))
	}
	if len(r.APIGroups) > 1 && admHasWildcard(r.APIGroups) {
		errs = append(errs, field.Invalid(p.Child("apiGroups"), r.APIGroups, "if '*' is present, must not specify other API groups"))
	}
	// A group may be empty: the core group.
	if len(r.APIVersions) == 0 {
		errs = append(errs, field.Required(p.Child("apiVersions"), ""))
	}
	if len(r.APIVersions) > 1 && admHasWildcard(r.APIVersions) {
		errs = append(errs, field.Invalid(p.Child("apiVersions"), r.APIVersions, "if '*' is present, must not specify other API versions"))
	}
	for i, v := range r.APIVersions {
		if v == "" {
			errs = append(errs, field.Required(p.Child("apiVersions").Index(i), ""))
		}
	}
	if allowSubResource {
		errs = append(errs, admValidateResources(r.Resources, p.Child("resources"))...)
	} else {
		errs = append(errs, admValidateResourcesNoSubResources(r.Resources, p.Child("resources"))...)
	}
	if r.Scope != nil && !admValidScopes.Has(string(*r.Scope)) {
		errs = append(errs, field.NotSupported(p.Child("scope"), *r.Scope, sets.List(admValidScopes)))
	}
	return errs
}

// admValidateResources is upstream's validateResources: "res", "res/sub", "res/*", "*/sub",
// "*" and "*/*", without overlaps.
func admValidateResources(resources []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(resources) == 0 {
		errs = append(errs, field.Required(p, ""))
	}
	resourcesWithWildcardSubresources := sets.New[string]() // x/*
	subresourcesWithWildcardResource := sets.New[string]()  // */x
	hasDoubleWildcard := false                              // */*
	hasSingleWildcard := false                              // *
	hasResourceWithoutSubresource := false                  // x
	for i, resSub := range resources {
		if resSub == "" {
			errs = append(errs, field.Required(p.Index(i), ""))
			continue
		}
		if resSub == "*/*" {
			hasDoubleWildcard = true
		}
		if resSub == "*" {
			hasSingleWildcard = true
		}
		res, sub, found := strings.Cut(resSub, "/")
		if !found {
			// As upstream: the last resource without a subresource decides.
			hasResourceWithoutSubresource = resSub != "*"
			continue
		}
		if resourcesWithWildcardSubresources.Has(res) {
			errs = append(errs, field.Invalid(p.Index(i), resSub, fmt.Sprintf("if '%s/*' is present, must not specify %s", res, resSub)))
		}
		if subresourcesWithWildcardResource.Has(sub) {
			errs = append(errs, field.Invalid(p.Index(i), resSub, fmt.Sprintf("if '*/%s' is present, must not specify %s", sub, resSub)))
		}
		if sub == "*" {
			resourcesWithWildcardSubresources.Insert(res)
		}
		if res == "*" {
			subresourcesWithWildcardResource.Insert(sub)
		}
	}
	if len(resources) > 1 && hasDoubleWildcard {
		errs = append(errs, field.Invalid(p, resources, "if '*/*' is present, must not specify other resources"))
	}
	if hasSingleWildcard && hasResourceWithoutSubresource {
		errs = append(errs, field.Invalid(p, resources, "if '*' is present, must not specify other resources without subresources"))
	}
	return errs
}

// admValidateResourcesNoSubResources is upstream's validateResourcesNoSubResources (rules
// that may not name subresources; webhook rules may, but the check is kept with validateRule).
func admValidateResourcesNoSubResources(resources []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(resources) == 0 {
		errs = append(errs, field.Required(p, ""))
	}
	for i, r := range resources {
		if r == "" {
			errs = append(errs, field.Required(p.Index(i), ""))
		}
		if strings.Contains(r, "/") {
			errs = append(errs, field.Invalid(p.Index(i), r, "must not specify subresources"))
		}
	}
	if len(resources) > 1 && admHasWildcard(resources) {
		errs = append(errs, field.Invalid(p, resources, "if '*' is present, must not specify other resources"))
	}
	return errs
}

func admHasWildcard[T ~string](values []T) bool {
	for _, v := range values {
		if v == "*" {
			return true
		}
	}
	return false
}

// admValidateMatchConditions is upstream's validateMatchConditions: at most 64, names
// required, qualified and unique, expressions required and compiling as CEL to a bool.
func admValidateMatchConditions(conds []admissionregistrationv1.MatchCondition, opts admOptions, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(conds) > admMaxMatchConditions {
		errs = append(errs, field.TooMany(p, len(conds), admMaxMatchConditions))
	}
	names := sets.New[string]()
	for i, c := range conds {
		cp := p.Index(i)
		if expr := strings.TrimSpace(c.Expression); expr == "" {
			errs = append(errs, field.Required(cp.Child("expression"), ""))
		} else {
			errs = append(errs, admValidateMatchConditionExpression(expr, opts, cp.Child("expression"))...)
		}
		if c.Name == "" {
			errs = append(errs, field.Required(cp.Child("name"), ""))
		} else {
			for _, msg := range validation.IsQualifiedName(c.Name) {
				errs = append(errs, field.Invalid(cp.Child("name"), c.Name, msg))
			}
		}
		if c.Name != "" {
			if names.Has(c.Name) {
				errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
			} else {
				names.Insert(c.Name)
			}
		}
	}
	return errs
}

var (
	admCELCompilerOnce sync.Once
	admCELCompiler     plugincel.Compiler
	// celBuildMu serialises building compilers of k8s.io/apiserver's admission/plugin/cel:
	// each build writes a variable of that package (the type provider of its hasPatchTypes
	// options), so two builds at once race. kube-apiserver builds them once at start; drover
	// builds one here and two per API server (the webhook plugins), and tests run many
	// servers in one process.
	celBuildMu sync.Mutex
)

// BuildCEL runs fn, which builds admission CEL compilers (k8s.io/apiserver's
// plugin/cel.NewCompiler, directly or through the webhook plugins' constructors), alone.
func BuildCEL(fn func()) {
	celBuildMu.Lock()
	defer celBuildMu.Unlock()
	fn()
}

// admMatchConditionCompiler is upstream's getStrictStatelessCELCompiler (strict cost
// enforcement for webhooks is GA and locked on in 1.32), built on first use.
func admMatchConditionCompiler() plugincel.Compiler {
	admCELCompilerOnce.Do(func() {
		BuildCEL(func() {
			admCELCompiler = plugincel.NewCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion(), true))
		})
	})
	return admCELCompiler
}

// admValidateMatchConditionExpression is upstream's validateMatchConditionsExpression: the
// expression compiles, with request, object, oldObject and authorizer (params for a policy
// with a paramKind), to a
// bool; an expression the stored configuration already has compiles in the stored-expressions
// environment (which knows every library a later version may have added).
func admValidateMatchConditionExpression(expr string, opts admOptions, p *field.Path) field.ErrorList {
	envType := environment.NewExpressions
	if opts.preexistingExpressions.Has(expr) {
		envType = environment.StoredExpressions
	}
	accessor := &matchconditions.MatchCondition{Expression: expr}
	result := admMatchConditionCompiler().CompileCELExpression(accessor, plugincel.OptionalVariableDeclarations{
		HasParams: opts.allowParams, HasAuthorizer: true, StrictCost: true,
	}, envType)
	celErr := result.Error
	if celErr == nil {
		return nil
	}
	// Upstream's convertCELErrorToValidationError.
	switch celErr.Type {
	case apiservercel.ErrorTypeRequired:
		return field.ErrorList{field.Required(p, celErr.Detail)}
	case apiservercel.ErrorTypeInvalid:
		return field.ErrorList{field.Invalid(p, expr, celErr.Detail)}
	case apiservercel.ErrorTypeInternal:
		return field.ErrorList{field.InternalError(p, celErr)}
	}
	return field.ErrorList{field.InternalError(p, fmt.Errorf("unsupported error type: %w", celErr))}
}

// admWebhookTable prints webhook configurations as Kubernetes' printValidatingWebhook and
// printMutatingWebhook: NAME WEBHOOKS AGE. meta returns an object's metadata and number of
// webhooks (false for another type).
func admWebhookTable(meta func(obj runtime.Object) (metav1.ObjectMeta, int, bool)) *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			m, n, ok := meta(obj)
			if !ok {
				return nil, fmt.Errorf("webhook configuration table: unexpected object %T", obj)
			}
			return []interface{}{m.Name, int64(n), translateTimestampSince(m.CreationTimestamp)}, nil
		},
	}
}
