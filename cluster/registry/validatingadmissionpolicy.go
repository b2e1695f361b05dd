package registry

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/client-go/util/jsonpath"
	"k8s.io/utils/ptr"
)

// validatingAdmissionPolicyResource describes admissionregistration.k8s.io/v1
// validatingadmissionpolicies with its status subresource, as Kubernetes 1.32 serves them
// (pkg/registry/admissionregistration/validatingadmissionpolicy: status cleared on create and
// kept by updates of the main resource, spec kept by status updates, generation bumped on a
// spec change; defaults and validation from pkg/apis/admissionregistration). The status is
// written by the API server's type checker (cluster/apiserver/admission_policy_typecheck.go).
func validatingAdmissionPolicyResource() *Resource {
	return &Resource{
		Group: AdmissionRegistrationGroup, Version: "v1", Resource: "validatingadmissionpolicies",
		Kind: "ValidatingAdmissionPolicy", SingularName: "validatingadmissionpolicy",
		Categories:   []string{"api-extensions"},
		Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicy{} },
		NewList: func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicyList{} },
		Default: func(obj runtime.Object) {
			vapDefault(obj.(*admissionregistrationv1.ValidatingAdmissionPolicy))
		},
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*admissionregistrationv1.ValidatingAdmissionPolicy).Status = admissionregistrationv1.ValidatingAdmissionPolicyStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			p := obj.(*admissionregistrationv1.ValidatingAdmissionPolicy)
			return vapValidateSpec(p.Name, &p.Spec, vapOptions{}, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, o := obj.(*admissionregistrationv1.ValidatingAdmissionPolicy), old.(*admissionregistrationv1.ValidatingAdmissionPolicy)
			return vapValidateSpec(n.Name, &n.Spec, vapUpdateOptions(n, o), field.NewPath("spec"))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return vapValidateStatus(&obj.(*admissionregistrationv1.ValidatingAdmissionPolicy).Status, field.NewPath("status"))
		},
		Table: vapTable(),
	}
}

// validatingAdmissionPolicyBindingResource describes admissionregistration.k8s.io/v1
// validatingadmissionpolicybindings (pkg/registry/admissionregistration/
// validatingadmissionpolicybinding), no status.
func validatingAdmissionPolicyBindingResource() *Resource {
	return &Resource{
		Group: AdmissionRegistrationGroup, Version: "v1", Resource: "validatingadmissionpolicybindings",
		Kind: "ValidatingAdmissionPolicyBinding", SingularName: "validatingadmissionpolicybinding",
		Categories: []string{"api-extensions"},
		New:        func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicyBinding{} },
		NewList:    func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicyBindingList{} },
		Default: func(obj runtime.Object) {
			if mr := obj.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding).Spec.MatchResources; mr != nil {
				vapDefaultMatchResources(mr)
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return vapbValidateSpec(&obj.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding).Spec, field.NewPath("spec"))
		},
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return vapbValidateSpec(&obj.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding).Spec, field.NewPath("spec"))
		},
		Table: vapbTable(),
	}
}

// vapDefault is SetObjectDefaults_ValidatingAdmissionPolicy: failurePolicy Fail, and the
// match constraints defaulted.
func vapDefault(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
	if p.Spec.FailurePolicy == nil {
		p.Spec.FailurePolicy = ptr.To(admissionregistrationv1.Fail)
	}
	if mr := p.Spec.MatchConstraints; mr != nil {
		vapDefaultMatchResources(mr)
	}
}

// vapDefaultMatchResources is SetDefaults_MatchResources (matchPolicy Equivalent, empty
// selectors) with SetDefaults_Rule (scope "*") on its resource rules and exclusions.
func vapDefaultMatchResources(mr *admissionregistrationv1.MatchResources) {
	if mr.MatchPolicy == nil {
		mr.MatchPolicy = ptr.To(admissionregistrationv1.Equivalent)
	}
	if mr.NamespaceSelector == nil {
		mr.NamespaceSelector = &metav1.LabelSelector{}
	}
	if mr.ObjectSelector == nil {
		mr.ObjectSelector = &metav1.LabelSelector{}
	}
	for _, rules := range [][]admissionregistrationv1.NamedRuleWithOperations{mr.ResourceRules, mr.ExcludeResourceRules} {
		for i := range rules {
			if rules[i].Scope == nil {
				rules[i].Scope = ptr.To(admissionregistrationv1.AllScopes)
			}
		}
	}
}

// vapOptions is upstream's validationOptions for policies: on update, expressions the stored
// policy already has compile in the stored-expressions environment, and match conditions
// unchanged (with an unchanged paramKind) are not validated again.
type vapOptions struct {
	ignoreMatchConditions bool
	matchConditions       sets.Set[string]
	validations           sets.Set[string]
	messages              sets.Set[string]
	auditValues           sets.Set[string]
}

// vapUpdateOptions is ValidateValidatingAdmissionPolicyUpdate's options
// (ignoreValidatingAdmissionPolicyMatchConditions, findValidatingPolicyPreexistingExpressions).
func vapUpdateOptions(n, o *admissionregistrationv1.ValidatingAdmissionPolicy) vapOptions {
	opts := vapOptions{
		ignoreMatchConditions: reflect.DeepEqual(n.Spec.ParamKind, o.Spec.ParamKind) &&
			reflect.DeepEqual(n.Spec.MatchConditions, o.Spec.MatchConditions),
		matchConditions: sets.New[string](), validations: sets.New[string](),
		messages: sets.New[string](), auditValues: sets.New[string](),
	}
	for _, mc := range o.Spec.MatchConditions {
		opts.matchConditions.Insert(mc.Expression)
	}
	for _, v := range o.Spec.Validations {
		opts.validations.Insert(v.Expression)
		if v.MessageExpression != "" {
			opts.messages.Insert(v.MessageExpression)
		}
	}
	for _, a := range o.Spec.AuditAnnotations {
		opts.auditValues.Insert(a.ValueExpression)
	}
	return opts
}

func (o vapOptions) env(stored sets.Set[string], expr string) environment.Type {
	if stored.Has(expr) {
		return environment.StoredExpressions
	}
	return environment.NewExpressions
}

const (
	vapMaxAuditAnnotations                  = 20
	vapMaxAuditAnnotationValueExpressionLen = 5 * 1024
)

var vapSupportedReasons = sets.New(
	string(metav1.StatusReasonForbidden), string(metav1.StatusReasonInvalid),
	string(metav1.StatusReasonRequestEntityTooLarge), string(metav1.StatusReasonUnauthorized))

// vapCompiler is upstream's createCompiler(needsComposition, strictCost=true): the stateless
// compiler of match conditions, or a new composited one (it stores the policy's variables)
// when the policy has variables, built under BuildCEL.
func vapCompiler(needsComposition bool) cel.Compiler {
	if !needsComposition {
		return admMatchConditionCompiler()
	}
	var c cel.Compiler
	var err error
	BuildCEL(func() {
		c, err = cel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion(), true))
	})
	if err != nil { // cannot happen: the base environment is a constant
		panic(fmt.Sprintf("registry: policy CEL compiler: %v", err))
	}
	return c
}

// vapValidateSpec is upstream's validateValidatingAdmissionPolicySpec (strict cost
// enforcement for policies is GA and locked on in 1.32).
func vapValidateSpec(name string, spec *admissionregistrationv1.ValidatingAdmissionPolicySpec, opts vapOptions, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	var compiler cel.Compiler
	getCompiler := func() cel.Compiler {
		if compiler == nil {
			compiler = vapCompiler(len(spec.Variables) > 0)
		}
		return compiler
	}
	if spec.FailurePolicy == nil {
		errs = append(errs, field.Required(p.Child("failurePolicy"), ""))
	} else if !admSupportedFailurePolicies.Has(string(*spec.FailurePolicy)) {
		errs = append(errs, field.NotSupported(p.Child("failurePolicy"), *spec.FailurePolicy, sets.List(admSupportedFailurePolicies)))
	}
	hasParams := spec.ParamKind != nil
	if hasParams {
		errs = append(errs, vapValidateParamKind(*spec.ParamKind, p.Child("paramKind"))...)
	}
	if spec.MatchConstraints == nil {
		errs = append(errs, field.Required(p.Child("matchConstraints"), ""))
	} else {
		errs = append(errs, vapValidateMatchResources(spec.MatchConstraints, p.Child("matchConstraints"))...)
		// at least one resourceRule must be defined to provide type information
		if len(spec.MatchConstraints.ResourceRules) == 0 {
			errs = append(errs, field.Required(p.Child("matchConstraints", "resourceRules"), ""))
		}
	}
	if !opts.ignoreMatchConditions {
		errs = append(errs, admValidateMatchConditions(spec.MatchConditions, admOptions{
			preexistingExpressions: opts.matchConditions, allowParams: hasParams}, p.Child("matchConditions"))...)
	}
	for i, v := range spec.Variables {
		errs = append(errs, vapValidateVariable(getCompiler(), v, hasParams, opts, p.Child("variables").Index(i))...)
	}
	if len(spec.Validations) == 0 && len(spec.AuditAnnotations) == 0 {
		errs = append(errs, field.Required(p.Child("validations"), "validations or auditAnnotations must contain at least one item"))
		errs = append(errs, field.Required(p.Child("auditAnnotations"), "validations or auditAnnotations must contain at least one item"))
		return errs
	}
	for i, v := range spec.Validations {
		errs = append(errs, vapValidateValidation(getCompiler(), v, hasParams, opts, p.Child("validations").Index(i))...)
	}
	if spec.AuditAnnotations != nil {
		keys := sets.New[string]()
		if len(spec.AuditAnnotations) > vapMaxAuditAnnotations {
			errs = append(errs, field.Invalid(p.Child("auditAnnotations"), spec.AuditAnnotations,
				fmt.Sprintf("must not have more than %d auditAnnotations", vapMaxAuditAnnotations)))
		}
		for i, a := range spec.AuditAnnotations {
			ap := p.Child("auditAnnotations").Index(i)
			errs = append(errs, vapValidateAuditAnnotation(getCompiler(), name, a, hasParams, opts, ap)...)
			if keys.Has(a.Key) {
				errs = append(errs, field.Duplicate(ap.Child("key"), a.Key))
			}
			keys.Insert(a.Key)
		}
	}
	return errs
}

// vapValidateParamKind is upstream's validateParamKind.
func vapValidateParamKind(pk admissionregistrationv1.ParamKind, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if pk.APIVersion == "" {
		errs = append(errs, field.Required(p.Child("apiVersion"), ""))
	} else if group, version, err := vapParseGroupVersion(pk.APIVersion); err != nil {
		errs = append(errs, field.Invalid(p.Child("apiVersion"), pk.APIVersion, err.Error()))
	} else {
		if group != "" {
			if msgs := validation.IsDNS1123Subdomain(group); len(msgs) > 0 {
				errs = append(errs, field.Invalid(p.Child("apiVersion"), group, strings.Join(msgs, ",")))
			}
		}
		if version == "" {
			errs = append(errs, field.Invalid(p.Child("apiVersion"), pk.APIVersion, "version must be specified"))
		} else if msgs := validation.IsDNS1035Label(version); len(msgs) > 0 {
			errs = append(errs, field.Invalid(p.Child("apiVersion"), version, strings.Join(msgs, ",")))
		}
	}
	if pk.Kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	} else if msgs := validation.IsDNS1035Label(strings.ToLower(pk.Kind)); len(msgs) > 0 {
		errs = append(errs, field.Invalid(p.Child("kind"), pk.Kind, "may have mixed case, but should otherwise match: "+strings.Join(msgs, ",")))
	}
	return errs
}

// vapParseGroupVersion is upstream's parseGroupVersion.
func vapParseGroupVersion(gv string) (group, version string, err error) {
	if gv == "" || gv == "/" {
		return "", "", nil
	}
	switch strings.Count(gv, "/") {
	case 0:
		return "", gv, nil
	case 1:
		g, v, _ := strings.Cut(gv, "/")
		return g, v, nil
	}
	return "", "", fmt.Errorf("unexpected GroupVersion string: %v", gv)
}

// vapValidateMatchResources is upstream's validateMatchResources (selectors validated
// strictly: the type came after issue #99139).
func vapValidateMatchResources(mr *admissionregistrationv1.MatchResources, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if mr == nil {
		return nil
	}
	if mr.MatchPolicy == nil {
		errs = append(errs, field.Required(p.Child("matchPolicy"), ""))
	} else if !admSupportedMatchPolicies.Has(string(*mr.MatchPolicy)) {
		errs = append(errs, field.NotSupported(p.Child("matchPolicy"), *mr.MatchPolicy, sets.List(admSupportedMatchPolicies)))
	}
	strict := metav1validation.LabelSelectorValidationOptions{}
	if mr.NamespaceSelector == nil {
		errs = append(errs, field.Required(p.Child("namespaceSelector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(mr.NamespaceSelector, strict, p.Child("namespaceSelector"))...)
	}
	if mr.ObjectSelector == nil {
		errs = append(errs, field.Required(p.Child("objectSelector"), ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(mr.ObjectSelector, strict, p.Child("objectSelector"))...)
	}
	for i := range mr.ResourceRules {
		errs = append(errs, vapValidateNamedRule(&mr.ResourceRules[i], p.Child("resourceRules").Index(i))...)
	}
	for i := range mr.ExcludeResourceRules {
		errs = append(errs, vapValidateNamedRule(&mr.ExcludeResourceRules[i], p.Child("excludeResourceRules").Index(i))...)
	}
	return errs
}

// vapValidateNamedRule is upstream's validateNamedRuleWithOperations: resource names are
// path segment names, unique; then the rule as a webhook's.
func vapValidateNamedRule(r *admissionregistrationv1.NamedRuleWithOperations, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, n := range r.ResourceNames {
		for _, msg := range vapPathSegmentName(n) {
			errs = append(errs, field.Invalid(p.Child("resourceNames").Index(i), n, msg))
		}
		if names.Has(n) {
			errs = append(errs, field.Duplicate(p.Child("resourceNames").Index(i), n))
		}
		names.Insert(n)
	}
	return append(errs, admValidateRuleWithOperations(&r.RuleWithOperations, p)...)
}

// vapPathSegmentName is k8s.io/apimachinery's path.ValidatePathSegmentName without prefix.
func vapPathSegmentName(name string) []string {
	if name == "." || name == ".." {
		return []string{fmt.Sprintf(`may not be '%s'`, name)}
	}
	var msgs []string
	for _, illegal := range []string{"/", "%"} {
		if strings.Contains(name, illegal) {
			msgs = append(msgs, fmt.Sprintf(`may not contain '%s'`, illegal))
		}
	}
	return msgs
}

var vapCELIdent = regexp.MustCompile("^[_a-zA-Z][_a-zA-Z0-9]*$")

var vapCELReserved = sets.New("true", "false", "null", "in", "as", "break", "const", "continue", "else",
	"for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while")

// vapValidateVariable is upstream's validateVariable: a CEL identifier, an expression
// compiled and stored in the composited compiler (later expressions see its type).
func vapValidateVariable(compiler cel.Compiler, v admissionregistrationv1.Variable, hasParams bool, opts vapOptions, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if strings.TrimSpace(v.Name) == "" {
		errs = append(errs, field.Required(p.Child("name"), "name is not specified"))
	} else if !vapCELIdent.MatchString(v.Name) || vapCELReserved.Has(v.Name) {
		errs = append(errs, field.Invalid(p.Child("name"), v.Name, "name is not a valid CEL identifier"))
	}
	if strings.TrimSpace(v.Expression) == "" {
		return append(errs, field.Required(p.Child("expression"), "expression is not specified"))
	}
	composited, ok := compiler.(*cel.CompositedCompiler)
	if !ok {
		return append(errs, field.InternalError(p, fmt.Errorf("variable composition is not allowed")))
	}
	variable := &validating.Variable{Name: v.Name, Expression: v.Expression}
	result := composited.CompileAndStoreVariable(variable, cel.OptionalVariableDeclarations{
		HasParams: hasParams, HasAuthorizer: true, StrictCost: true,
	}, opts.env(opts.validations, v.Expression))
	if result.Error != nil {
		errs = append(errs, vapCELError(p.Child("expression"), v.Expression, result.Error))
	}
	return errs
}

var vapNewlines = regexp.MustCompile(`[\n\r]+`)

// vapValidateValidation is upstream's validateValidation.
func vapValidateValidation(compiler cel.Compiler, v admissionregistrationv1.Validation, hasParams bool, opts vapOptions, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	msg, msgExpr := strings.TrimSpace(v.Message), strings.TrimSpace(v.MessageExpression)
	if strings.TrimSpace(v.Expression) == "" {
		errs = append(errs, field.Required(p.Child("expression"), "expression is not specified"))
	} else {
		result := compiler.CompileCELExpression(&validating.ValidationCondition{Expression: v.Expression},
			cel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true, StrictCost: true},
			opts.env(opts.validations, v.Expression))
		if result.Error != nil {
			errs = append(errs, vapCELError(p.Child("expression"), v.Expression, result.Error))
		}
	}
	if v.MessageExpression != "" && msgExpr == "" {
		errs = append(errs, field.Invalid(p.Child("messageExpression"), v.MessageExpression, "must be non-empty if specified"))
	} else if msgExpr != "" {
		// Upstream declares params here through opts.allowParamsInMatchConditions, set when
		// the policy has a paramKind; no authorizer in message expressions.
		result := compiler.CompileCELExpression(&validating.MessageExpressionCondition{MessageExpression: v.MessageExpression},
			cel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: false, StrictCost: true},
			opts.env(opts.messages, v.MessageExpression))
		if result.Error != nil {
			errs = append(errs, vapCELError(p.Child("messageExpression"), v.MessageExpression, result.Error))
		}
	}
	if v.Message != "" && msg == "" {
		errs = append(errs, field.Invalid(p.Child("message"), v.Message, "message must be non-empty if specified"))
	} else if vapNewlines.MatchString(msg) {
		errs = append(errs, field.Invalid(p.Child("message"), v.Message, "message must not contain line breaks"))
	}
	if v.Reason != nil && !vapSupportedReasons.Has(string(*v.Reason)) {
		errs = append(errs, field.NotSupported(p.Child("reason"), *v.Reason, sets.List(vapSupportedReasons)))
	}
	return errs
}

// vapValidateAuditAnnotation is upstream's validateAuditAnnotation.
func vapValidateAuditAnnotation(compiler cel.Compiler, name string, a admissionregistrationv1.AuditAnnotation, hasParams bool, opts vapOptions, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name != "" {
		for _, msg := range validation.IsQualifiedName(name + "/" + a.Key) {
			errs = append(errs, field.Invalid(p.Child("key"), name+"/"+a.Key, msg))
		}
	} else {
		errs = append(errs, field.Invalid(p.Child("key"), a.Key, "requires metadata.name be non-empty"))
	}
	value := strings.TrimSpace(a.ValueExpression)
	switch {
	case value == "":
		errs = append(errs, field.Required(p.Child("valueExpression"), "valueExpression is not specified"))
	case len(value) > vapMaxAuditAnnotationValueExpressionLen:
		errs = append(errs, field.Required(p.Child("valueExpression"), fmt.Sprintf("must not exceed %d bytes in length", vapMaxAuditAnnotationValueExpressionLen)))
	default:
		result := compiler.CompileCELExpression(&validating.AuditAnnotationCondition{ValueExpression: value},
			cel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true, StrictCost: true},
			opts.env(opts.auditValues, a.ValueExpression))
		if result.Error != nil {
			errs = append(errs, vapCELError(p.Child("valueExpression"), a.ValueExpression, result.Error))
		}
	}
	return errs
}

// vapCELError is upstream's convertCELErrorToValidationError.
func vapCELError(p *field.Path, expr string, err *apiservercel.Error) *field.Error {
	switch err.Type {
	case apiservercel.ErrorTypeRequired:
		return field.Required(p, err.Detail)
	case apiservercel.ErrorTypeInvalid:
		return field.Invalid(p, expr, err.Detail)
	case apiservercel.ErrorTypeInternal:
		return field.InternalError(p, err)
	}
	return field.InternalError(p, fmt.Errorf("unsupported error type: %w", err))
}

// vapValidateStatus is upstream's validateValidatingAdmissionPolicyStatus: each expression
// warning has a warning and a JSONPath fieldRef; the conditions are metav1 conditions.
func vapValidateStatus(s *admissionregistrationv1.ValidatingAdmissionPolicyStatus, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if tc := s.TypeChecking; tc != nil {
		wp := p.Child("typeChecking", "expressionWarnings")
		for i, w := range tc.ExpressionWarnings {
			if w.Warning == "" {
				errs = append(errs, field.Required(wp.Index(i).Child("warning"), ""))
			}
			ref := strings.TrimSpace(w.FieldRef)
			if ref == "" {
				errs = append(errs, field.Required(wp.Index(i).Child("fieldRef"), ""))
			} else if err := jsonpath.New("spec").Parse("{" + ref + "}"); err != nil {
				errs = append(errs, field.Invalid(wp.Index(i).Child("fieldRef"), ref, fmt.Sprintf("invalid JSONPath: %v", err)))
			}
		}
	}
	return append(errs, metav1validation.ValidateConditions(s.Conditions, p.Child("conditions"))...)
}

// vapbValidateSpec is upstream's validateValidatingAdmissionPolicyBindingSpec.
func vapbValidateSpec(spec *admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.PolicyName == "" {
		errs = append(errs, field.Required(p.Child("policyName"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(spec.PolicyName) {
			errs = append(errs, field.Invalid(p.Child("policyName"), spec.PolicyName, msg))
		}
	}
	errs = append(errs, vapbValidateParamRef(spec.ParamRef, p.Child("paramRef"))...)
	errs = append(errs, vapValidateMatchResources(spec.MatchResources, p.Child("matchResources"))...)
	return append(errs, vapbValidateActions(spec.ValidationActions, p.Child("validationActions"))...)
}

// vapbValidateParamRef is upstream's validateParamRef.
func vapbValidateParamRef(pr *admissionregistrationv1.ParamRef, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	var errs field.ErrorList
	if pr.Name != "" {
		for _, msg := range vapPathSegmentName(pr.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), pr.Name, msg))
		}
		if pr.Selector != nil {
			errs = append(errs, field.Forbidden(p.Child("name"), `name and selector are mutually exclusive`))
		}
	}
	if pr.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(pr.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
		if pr.Name != "" {
			errs = append(errs, field.Forbidden(p.Child("selector"), `name and selector are mutually exclusive`))
		}
	}
	if pr.Name == "" && pr.Selector == nil {
		errs = append(errs, field.Required(p, `one of name or selector must be specified`))
	}
	if pr.ParameterNotFoundAction == nil || *pr.ParameterNotFoundAction == "" {
		errs = append(errs, field.Required(p.Child("parameterNotFoundAction"), ""))
	} else if a := *pr.ParameterNotFoundAction; a != admissionregistrationv1.DenyAction && a != admissionregistrationv1.AllowAction {
		errs = append(errs, field.NotSupported(p.Child("parameterNotFoundAction"), pr.ParameterNotFoundAction,
			[]string{string(admissionregistrationv1.DenyAction), string(admissionregistrationv1.AllowAction)}))
	}
	return errs
}

var vapbValidActions = sets.New(string(admissionregistrationv1.Deny), string(admissionregistrationv1.Warn), string(admissionregistrationv1.Audit))

// vapbValidateActions is upstream's validateValidationActions.
func vapbValidateActions(actions []admissionregistrationv1.ValidationAction, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, a := range actions {
		if !vapbValidActions.Has(string(a)) {
			errs = append(errs, field.NotSupported(p.Index(i), a, sets.List(vapbValidActions)))
		}
		if seen.Has(string(a)) {
			errs = append(errs, field.Duplicate(p.Index(i), a))
		}
		seen.Insert(string(a))
	}
	if seen.Has(string(admissionregistrationv1.Deny)) && seen.Has(string(admissionregistrationv1.Warn)) {
		errs = append(errs, field.Invalid(p, actions, "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)"))
	}
	if len(seen) == 0 {
		errs = append(errs, field.Required(p, "at least one validation action is required"))
	}
	return errs
}

// vapTable is Kubernetes' printValidatingAdmissionPolicy: NAME VALIDATIONS PARAMKIND AGE.
func vapTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Validations", "integer", "Validations indicates the number of validation rules defined in this configuration", 0),
			column("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			p, ok := obj.(*admissionregistrationv1.ValidatingAdmissionPolicy)
			if !ok {
				return nil, fmt.Errorf("validating admission policy table: unexpected object %T", obj)
			}
			paramKind := "<unset>"
			if pk := p.Spec.ParamKind; pk != nil {
				paramKind = pk.APIVersion + "/" + pk.Kind
			}
			return []interface{}{p.Name, int64(len(p.Spec.Validations)), paramKind, translateTimestampSince(p.CreationTimestamp)}, nil
		},
	}
}

// vapbTable is Kubernetes' printValidatingAdmissionPolicyBinding: NAME POLICYNAME PARAMREF AGE.
func vapbTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("PolicyName", "string", "PolicyName indicates the policy definition which the policy binding binded to", 0),
			column("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			b, ok := obj.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding)
			if !ok {
				return nil, fmt.Errorf("validating admission policy binding table: unexpected object %T", obj)
			}
			paramName := "<unset>"
			if pr := b.Spec.ParamRef; pr != nil {
				switch {
				case pr.Name != "" && pr.Namespace != "":
					paramName = pr.Namespace + "/" + pr.Name
				case pr.Name != "":
					paramName = "*/" + pr.Name
				case pr.Selector != nil:
					paramName = pr.Selector.String() // as upstream, the Go string of the selector
				}
			}
			return []interface{}{b.Name, b.Spec.PolicyName, paramName, translateTimestampSince(b.CreationTimestamp)}, nil
		},
	}
}
