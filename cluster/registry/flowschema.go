package registry

import (
	"fmt"
	"strings"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap"
)

// FlowcontrolGroup is the API group of FlowSchema and PriorityLevelConfiguration.
const FlowcontrolGroup = flowcontrolv1.GroupName

// flowSchemaDefaultMatchingPrecedence is Kubernetes' FlowSchemaDefaultMatchingPrecedence.
const flowSchemaDefaultMatchingPrecedence int32 = 1000

var (
	flowcontrolSupportedVerbs = map[string]bool{"get": true, "list": true, "create": true, "update": true,
		"delete": true, "deletecollection": true, "patch": true, "watch": true, "proxy": true}
	flowcontrolSupportedVerbList = []string{"create", "delete", "deletecollection", "get", "list", "patch", "proxy", "update", "watch"}
)

// flowSchemaResource describes the flowcontrol.apiserver.k8s.io/v1 flowschemas resource.
// drover's API server does not classify requests by FlowSchema (its fixed request classes are
// in cluster/apiserver/limits.go): the objects are stored, validated and watched as by a
// kube-apiserver run with --enable-priority-and-fairness=false, and change nothing.
func flowSchemaResource() *Resource {
	return &Resource{
		Group: FlowcontrolGroup, Version: "v1", Resource: "flowschemas", Kind: "FlowSchema", SingularName: "flowschema",
		Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &flowcontrolv1.FlowSchema{} },
		NewList: func() runtime.Object { return &flowcontrolv1.FlowSchemaList{} },
		Default: func(obj runtime.Object) { flowSchemaDefault(obj.(*flowcontrolv1.FlowSchema)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*flowcontrolv1.FlowSchema).Status = flowcontrolv1.FlowSchemaStatus{}
		},
		// A status update changes the status only (Kubernetes' flowSchemaStatusStrategy keeps
		// the stored metadata too).
		PrepareForSubresourceUpdate: func(_ string, obj, old runtime.Object) {
			flowcontrolKeepMeta(&obj.(*flowcontrolv1.FlowSchema).ObjectMeta, &old.(*flowcontrolv1.FlowSchema).ObjectMeta)
		},
		Validate: func(obj runtime.Object) field.ErrorList { return flowSchemaValidate(obj.(*flowcontrolv1.FlowSchema)) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return flowSchemaValidate(obj.(*flowcontrolv1.FlowSchema))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return flowSchemaValidateStatus(&obj.(*flowcontrolv1.FlowSchema).Status, field.NewPath("status"))
		},
		Table: flowSchemaTable(),
	}
}

// flowcontrolKeepMeta sets m to the stored metadata, keeping the resourceVersion the update
// is conditioned on.
func flowcontrolKeepMeta(m, old *metav1.ObjectMeta) {
	rv := m.ResourceVersion
	*m = *old.DeepCopy()
	m.ResourceVersion = rv
	m.ManagedFields = nil
}

// flowSchemaDefault is Kubernetes' v1 SetDefaults_FlowSchemaSpec: matchingPrecedence 1000.
func flowSchemaDefault(fs *flowcontrolv1.FlowSchema) {
	if fs.Spec.MatchingPrecedence == 0 {
		fs.Spec.MatchingPrecedence = flowSchemaDefaultMatchingPrecedence
	}
}

// flowSchemaMandatory returns Kubernetes' mandatory FlowSchema of that name ("exempt",
// "catch-all"), defaulted, or nil.
func flowSchemaMandatory(name string) *flowcontrolv1.FlowSchema {
	for _, fs := range bootstrap.MandatoryFlowSchemas {
		if fs.Name == name {
			c := fs.DeepCopy()
			flowSchemaDefault(c)
			return c
		}
	}
	return nil
}

// flowSchemaValidate is Kubernetes' ValidateFlowSchema: the spec, a mandatory schema's spec
// equal to its fixed value, and the status.
func flowSchemaValidate(fs *flowcontrolv1.FlowSchema) field.ErrorList {
	p := field.NewPath("spec")
	errs := flowSchemaValidateSpec(fs.Name, &fs.Spec, p)
	if mand := flowSchemaMandatory(fs.Name); mand != nil && !apiequality.Semantic.DeepEqual(fs.Spec, mand.Spec) {
		errs = append(errs, field.Invalid(p, fs.Spec, fmt.Sprintf("spec of '%s' must equal the fixed value", fs.Name)))
	}
	return append(errs, flowSchemaValidateStatus(&fs.Status, field.NewPath("status"))...)
}

// flowSchemaValidateSpec is Kubernetes' ValidateFlowSchemaSpec.
func flowSchemaValidateSpec(name string, spec *flowcontrolv1.FlowSchemaSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	mp := p.Child("matchingPrecedence")
	if spec.MatchingPrecedence <= 0 {
		errs = append(errs, field.Invalid(mp, spec.MatchingPrecedence, "must be a positive value"))
	}
	if spec.MatchingPrecedence > flowcontrolv1.FlowSchemaMaxMatchingPrecedence {
		errs = append(errs, field.Invalid(mp, spec.MatchingPrecedence, fmt.Sprintf("must not be greater than %v", flowcontrolv1.FlowSchemaMaxMatchingPrecedence)))
	}
	if spec.MatchingPrecedence == 1 && name != flowcontrolv1.FlowSchemaNameExempt {
		errs = append(errs, field.Invalid(mp, spec.MatchingPrecedence, "only the schema named 'exempt' may have matchingPrecedence 1"))
	}
	if dm := spec.DistinguisherMethod; dm != nil && dm.Type != flowcontrolv1.FlowDistinguisherMethodByNamespaceType && dm.Type != flowcontrolv1.FlowDistinguisherMethodByUserType {
		errs = append(errs, field.NotSupported(p.Child("distinguisherMethod", "type"), dm.Type,
			[]string{string(flowcontrolv1.FlowDistinguisherMethodByNamespaceType), string(flowcontrolv1.FlowDistinguisherMethodByUserType)}))
	}
	plp := p.Child("priorityLevelConfiguration", "name")
	if pl := spec.PriorityLevelConfiguration.Name; pl != "" {
		for _, msg := range apivalidation.NameIsDNSSubdomain(pl, false) {
			errs = append(errs, field.Invalid(plp, pl, msg))
		}
	} else {
		errs = append(errs, field.Required(plp, "must reference a priority level"))
	}
	for i := range spec.Rules {
		errs = append(errs, flowSchemaValidateRule(&spec.Rules[i], p.Child("rules").Index(i))...)
	}
	return errs
}

// flowSchemaValidateRule is Kubernetes' ValidateFlowSchemaPolicyRulesWithSubjects.
func flowSchemaValidateRule(rule *flowcontrolv1.PolicyRulesWithSubjects, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(rule.Subjects) == 0 {
		errs = append(errs, field.Required(p.Child("subjects"), "subjects must contain at least one value"))
	}
	for i := range rule.Subjects {
		errs = append(errs, flowSchemaValidateSubject(&rule.Subjects[i], p.Child("subjects").Index(i))...)
	}
	if len(rule.ResourceRules) == 0 && len(rule.NonResourceRules) == 0 {
		errs = append(errs, field.Required(p, "at least one of resourceRules and nonResourceRules has to be non-empty"))
	}
	for i := range rule.ResourceRules {
		errs = append(errs, flowSchemaValidateResourceRule(&rule.ResourceRules[i], p.Child("resourceRules").Index(i))...)
	}
	for i := range rule.NonResourceRules {
		errs = append(errs, flowSchemaValidateNonResourceRule(&rule.NonResourceRules[i], p.Child("nonResourceRules").Index(i))...)
	}
	return errs
}

// flowSchemaValidateSubject is Kubernetes' ValidateFlowSchemaSubject: the member that the
// kind names is required, the others forbidden.
func flowSchemaValidateSubject(s *flowcontrolv1.Subject, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	notUser := func() {
		if s.User != nil {
			errs = append(errs, field.Forbidden(p.Child("user"), "user is forbidden when subject kind is not 'User'"))
		}
	}
	notGroup := func() {
		if s.Group != nil {
			errs = append(errs, field.Forbidden(p.Child("group"), "group is forbidden when subject kind is not 'Group'"))
		}
	}
	notSA := func() {
		if s.ServiceAccount != nil {
			errs = append(errs, field.Forbidden(p.Child("serviceAccount"), "serviceAccount is forbidden when subject kind is not 'ServiceAccount'"))
		}
	}
	switch s.Kind {
	case flowcontrolv1.SubjectKindServiceAccount:
		sp := p.Child("serviceAccount")
		if sa := s.ServiceAccount; sa == nil {
			errs = append(errs, field.Required(sp, "serviceAccount is required when subject kind is 'ServiceAccount'"))
		} else {
			if sa.Name == "" {
				errs = append(errs, field.Required(sp.Child("name"), ""))
			} else if sa.Name != flowcontrolv1.NameAll {
				for _, msg := range apivalidation.ValidateServiceAccountName(sa.Name, false) {
					errs = append(errs, field.Invalid(sp.Child("name"), sa.Name, msg))
				}
			}
			if sa.Namespace == "" {
				errs = append(errs, field.Required(sp.Child("namespace"), "must specify namespace for service account"))
			} else {
				for _, msg := range apivalidation.ValidateNamespaceName(sa.Namespace, false) {
					errs = append(errs, field.Invalid(sp.Child("namespace"), sa.Namespace, msg))
				}
			}
		}
		notUser()
		notGroup()
	case flowcontrolv1.SubjectKindUser:
		if s.User == nil {
			errs = append(errs, field.Required(p.Child("user"), "user is required when subject kind is 'User'"))
		} else if s.User.Name == "" {
			errs = append(errs, field.Required(p.Child("user", "name"), ""))
		}
		notSA()
		notGroup()
	case flowcontrolv1.SubjectKindGroup:
		if s.Group == nil {
			errs = append(errs, field.Required(p.Child("group"), "group is required when subject kind is 'Group'"))
		} else if s.Group.Name == "" {
			errs = append(errs, field.Required(p.Child("group", "name"), ""))
		}
		notSA()
		notUser()
	default:
		errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{
			string(flowcontrolv1.SubjectKindGroup), string(flowcontrolv1.SubjectKindServiceAccount), string(flowcontrolv1.SubjectKindUser)}))
	}
	return errs
}

// flowcontrolValidateVerbs: at least one verb, "*" alone, or only verbs Kubernetes knows.
func flowcontrolValidateVerbs(verbs []string, p *field.Path) field.ErrorList {
	switch {
	case len(verbs) == 0:
		return field.ErrorList{field.Required(p, "verbs must contain at least one value")}
	case flowcontrolHasWildcard(verbs):
		if len(verbs) > 1 {
			return field.ErrorList{field.Invalid(p, verbs, "if '*' is present, must not specify other verbs")}
		}
	default:
		for _, v := range verbs {
			if !flowcontrolSupportedVerbs[v] {
				return field.ErrorList{field.NotSupported(p, verbs, flowcontrolSupportedVerbList)}
			}
		}
	}
	return nil
}

// flowSchemaValidateResourceRule is Kubernetes' ValidateFlowSchemaResourcePolicyRule.
func flowSchemaValidateResourceRule(rule *flowcontrolv1.ResourcePolicyRule, p *field.Path) field.ErrorList {
	errs := flowcontrolValidateVerbs(rule.Verbs, p.Child("verbs"))
	if len(rule.APIGroups) == 0 {
		errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
	} else if len(rule.APIGroups) > 1 && flowcontrolHasWildcard(rule.APIGroups) {
		errs = append(errs, field.Invalid(p.Child("apiGroups"), rule.APIGroups, "if '*' is present, must not specify other api groups"))
	}
	if len(rule.Resources) == 0 {
		errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
	} else if len(rule.Resources) > 1 && flowcontrolHasWildcard(rule.Resources) {
		errs = append(errs, field.Invalid(p.Child("resources"), rule.Resources, "if '*' is present, must not specify other resources"))
	}
	switch {
	case len(rule.Namespaces) == 0 && !rule.ClusterScope:
		errs = append(errs, field.Required(p.Child("namespaces"), "resource rules that are not cluster scoped must supply at least one namespace"))
	case flowcontrolHasWildcard(rule.Namespaces):
		if len(rule.Namespaces) > 1 {
			errs = append(errs, field.Invalid(p.Child("namespaces"), rule.Namespaces, "if '*' is present, must not specify other namespaces"))
		}
	default:
		for i, ns := range rule.Namespaces {
			for _, msg := range apivalidation.ValidateNamespaceName(ns, false) {
				errs = append(errs, field.Invalid(p.Child("namespaces").Index(i), ns, "each member of this list must be '*' or a DNS-1123 label; "+msg))
			}
		}
	}
	return errs
}

// flowSchemaValidateNonResourceRule is Kubernetes' ValidateFlowSchemaNonResourcePolicyRule.
func flowSchemaValidateNonResourceRule(rule *flowcontrolv1.NonResourcePolicyRule, p *field.Path) field.ErrorList {
	errs := flowcontrolValidateVerbs(rule.Verbs, p.Child("verbs"))
	up := p.Child("nonResourceURLs")
	switch {
	case len(rule.NonResourceURLs) == 0:
		errs = append(errs, field.Required(up, "nonResourceURLs must contain at least one value"))
	case flowcontrolHasWildcard(rule.NonResourceURLs):
		if len(rule.NonResourceURLs) > 1 {
			errs = append(errs, field.Invalid(up, rule.NonResourceURLs, "if '*' is present, must not specify other non-resource URLs"))
		}
	default:
		for i, u := range rule.NonResourceURLs {
			if err := flowSchemaValidateNonResourceURL(u, up.Index(i)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// flowSchemaValidateNonResourceURL is Kubernetes' ValidateNonResourceURLPath: "/" or a path
// starting with a slash, without blanks or double slashes, a "*" only as the last segment.
func flowSchemaValidateNonResourceURL(u string, p *field.Path) *field.Error {
	switch {
	case u == "":
		return field.Invalid(p, u, "must not be empty")
	case u == "/":
		return nil
	case !strings.HasPrefix(u, "/"):
		return field.Invalid(p, u, "must start with slash")
	case strings.Contains(u, " "):
		return field.Invalid(p, u, "must not contain white-space")
	case strings.Contains(u, "//"):
		return field.Invalid(p, u, "must not contain double slash")
	}
	if n := strings.Count(u, "*"); n > 1 || n == 1 && !strings.HasSuffix(u, "/*") {
		return field.Invalid(p, u, "wildcard can only do suffix matching")
	}
	return nil
}

func flowcontrolHasWildcard(list []string) bool {
	for _, s := range list {
		if s == "*" {
			return true
		}
	}
	return false
}

// flowSchemaValidateStatus is Kubernetes' ValidateFlowSchemaStatus: condition types given and
// unique.
func flowSchemaValidateStatus(st *flowcontrolv1.FlowSchemaStatus, p *field.Path) field.ErrorList {
	types := make([]string, len(st.Conditions))
	for i, c := range st.Conditions {
		types[i] = string(c.Type)
	}
	return flowcontrolValidateConditionTypes(types, p.Child("conditions"))
}

func flowcontrolValidateConditionTypes(types []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, t := range types {
		if seen[t] {
			errs = append(errs, field.Duplicate(p.Index(i).Child("type"), t))
		}
		seen[t] = true
		if t == "" {
			errs = append(errs, field.Required(p.Index(i).Child("type"), "must not be empty"))
		}
	}
	return errs
}

// flowSchemaTable prints flow schemas as Kubernetes' printFlowSchema: NAME PRIORITYLEVEL
// MATCHINGPRECEDENCE DISTINGUISHERMETHOD AGE MISSINGPL (the Dangling condition's status, "?"
// without one: drover has no controller that sets it).
func flowSchemaTable() *Table {
	spec := flowcontrolv1.FlowSchemaSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("PriorityLevel", "string", flowcontrolv1.PriorityLevelConfigurationReference{}.SwaggerDoc()["name"], 0),
			column("MatchingPrecedence", "string", spec["matchingPrecedence"], 0),
			column("DistinguisherMethod", "string", spec["distinguisherMethod"], 0),
			ageColumn,
			column("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration", 0),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			fs, ok := obj.(*flowcontrolv1.FlowSchema)
			if !ok {
				return nil, fmt.Errorf("flowschema table: unexpected object %T", obj)
			}
			dm := "<none>"
			if fs.Spec.DistinguisherMethod != nil {
				dm = string(fs.Spec.DistinguisherMethod.Type)
			}
			missing := "?"
			for _, c := range fs.Status.Conditions {
				if c.Type == flowcontrolv1.FlowSchemaConditionDangling {
					missing = string(c.Status)
					break
				}
			}
			return []interface{}{fs.Name, fs.Spec.PriorityLevelConfiguration.Name, int64(fs.Spec.MatchingPrecedence), dm,
				translateTimestampSince(fs.CreationTimestamp), missing}, nil
		},
	}
}
