package registry

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// rqResource describes the resourcequotas resource: spec.hard is what a namespace may use;
// status (hard and used) is kept by the resource quota controller and by the API server's
// quota admission, which charges creates against it.
func rqResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "resourcequotas", Kind: "ResourceQuota", SingularName: "resourcequota",
		ShortNames: []string{"quota"}, Namespaced: true, Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &corev1.ResourceQuota{} },
		NewList: func() runtime.Object { return &corev1.ResourceQuotaList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*corev1.ResourceQuota).Status = corev1.ResourceQuotaStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			rq := obj.(*corev1.ResourceQuota)
			return append(rqValidateSpec(&rq.Spec, field.NewPath("spec")), rqValidateStatus(&rq.Status, field.NewPath("status"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			rq, orq := obj.(*corev1.ResourceQuota), old.(*corev1.ResourceQuota)
			errs := rqValidateSpec(&rq.Spec, field.NewPath("spec"))
			if !sets.New(rq.Spec.Scopes...).Equal(sets.New(orq.Spec.Scopes...)) {
				errs = append(errs, field.Invalid(field.NewPath("spec", "scopes"), rq.Spec.Scopes, "field is immutable"))
			}
			return errs
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return rqValidateStatus(&obj.(*corev1.ResourceQuota).Status, field.NewPath("status"))
		},
		Table: rqTable(),
	}
}

var (
	// standardResources are Kubernetes' standard resource names (IsStandardResourceName).
	standardResources = sets.New[corev1.ResourceName](corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
		corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
		corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
		corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
		corev1.ResourceSecrets, corev1.ResourceConfigMaps, corev1.ResourcePersistentVolumeClaims, corev1.ResourceStorage, corev1.ResourceRequestsStorage,
		corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers)
	// standardQuotaResources are the names a quota may hold unqualified.
	standardQuotaResources = sets.New[corev1.ResourceName](corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
		corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsStorage, corev1.ResourceRequestsEphemeralStorage,
		corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
		corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
		corev1.ResourceSecrets, corev1.ResourcePersistentVolumeClaims, corev1.ResourceConfigMaps,
		corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers)
	// integerResources hold whole numbers only.
	integerResources = sets.New[corev1.ResourceName](corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices,
		corev1.ResourceReplicationControllers, corev1.ResourceSecrets, corev1.ResourceConfigMaps,
		corev1.ResourcePersistentVolumeClaims, corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers)
	standardQuotaScopes = sets.New(corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating,
		corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopePriorityClass,
		corev1.ResourceQuotaScopeCrossNamespacePodAffinity)
	podComputeQuotaResources = sets.New[corev1.ResourceName](corev1.ResourceCPU, corev1.ResourceMemory,
		corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory)
)

func isHugePageQuotaName(n corev1.ResourceName) bool {
	return strings.HasPrefix(string(n), corev1.ResourceHugePagesPrefix) || strings.HasPrefix(string(n), corev1.ResourceRequestsHugePagesPrefix)
}

// isExtendedResourceName is Kubernetes' IsExtendedResourceName.
func isExtendedResourceName(n corev1.ResourceName) bool {
	s := string(n)
	if !strings.Contains(s, "/") || strings.Contains(s, "kubernetes.io/") || strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+s)) == 0
}

// rqValidateResourceName is Kubernetes' ValidateResourceQuotaResourceName.
func rqValidateResourceName(n corev1.ResourceName, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(string(n)) {
		errs = append(errs, field.Invalid(p, n, msg))
	}
	if len(errs) > 0 || strings.Contains(string(n), "/") {
		return errs
	}
	if !standardResources.Has(n) && !isHugePageQuotaName(n) {
		return append(errs, field.Invalid(p, n, "must be a standard resource type or fully qualified"))
	}
	if !standardQuotaResources.Has(n) && !isHugePageQuotaName(n) {
		return append(errs, field.Invalid(p, n, "must be a standard resource for quota"))
	}
	return errs
}

// rqValidateQuantity is Kubernetes' ValidateResourceQuantityValue.
func rqValidateQuantity(n corev1.ResourceName, q resource.Quantity, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if q.Sign() < 0 {
		errs = append(errs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
	}
	if (integerResources.Has(n) || isExtendedResourceName(n)) && q.MilliValue()%1000 != 0 {
		errs = append(errs, field.Invalid(p, q.String(), "must be an integer"))
	}
	return errs
}

func rqValidateList(l corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(l) {
		n := corev1.ResourceName(k)
		errs = append(errs, rqValidateResourceName(n, p.Key(k))...)
		errs = append(errs, rqValidateQuantity(n, l[n], p.Key(k))...)
	}
	return errs
}

// rqValidateSpec is Kubernetes' ValidateResourceQuotaSpec.
func rqValidateSpec(spec *corev1.ResourceQuotaSpec, p *field.Path) field.ErrorList {
	errs := rqValidateList(spec.Hard, p.Child("hard"))
	if len(spec.Scopes) > 0 {
		sp := p.Child("scopes")
		seen := sets.New[corev1.ResourceQuotaScope]()
		for _, scope := range spec.Scopes {
			errs = append(errs, rqValidateScope(spec.Hard, scope, sp, sp, spec.Scopes)...)
			seen.Insert(scope)
		}
		errs = append(errs, rqConflictingScopes(seen, sp, spec.Scopes)...)
	}
	if spec.ScopeSelector != nil {
		sp := p.Child("scopeSelector", "matchExpressions")
		seen := sets.New[corev1.ResourceQuotaScope]()
		for _, req := range spec.ScopeSelector.MatchExpressions {
			errs = append(errs, rqValidateScope(spec.Hard, req.ScopeName, sp.Child("scopeName"), sp, spec.ScopeSelector)...)
			errs = append(errs, rqValidateScopeOperator(req, sp)...)
			seen.Insert(req.ScopeName)
		}
		errs = append(errs, rqConflictingScopes(seen, sp, spec.ScopeSelector)...)
	}
	return errs
}

// rqValidateScope checks one scope is known and fits every standard resource of hard.
func rqValidateScope(hard corev1.ResourceList, scope corev1.ResourceQuotaScope, scopePath, p *field.Path, value interface{}) field.ErrorList {
	var errs field.ErrorList
	if !standardQuotaScopes.Has(scope) {
		if _, ok := value.([]corev1.ResourceQuotaScope); ok {
			errs = append(errs, field.Invalid(p, value, "unsupported scope"))
		} else {
			errs = append(errs, field.Invalid(scopePath, scope, "unsupported scope"))
		}
	}
	for _, k := range sortedKeys(hard) {
		n := corev1.ResourceName(k)
		if standardQuotaResources.Has(n) || isHugePageQuotaName(n) {
			if !rqScopeFits(scope, n) {
				errs = append(errs, field.Invalid(p, value, "unsupported scope applied to resource"))
			}
		}
	}
	return errs
}

// rqScopeFits is Kubernetes' IsResourceQuotaScopeValidForResource.
func rqScopeFits(scope corev1.ResourceQuotaScope, n corev1.ResourceName) bool {
	switch scope {
	case corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeNotBestEffort,
		corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return n == corev1.ResourcePods || podComputeQuotaResources.Has(n)
	case corev1.ResourceQuotaScopeBestEffort:
		return n == corev1.ResourcePods
	}
	return true
}

func rqValidateScopeOperator(req corev1.ScopedResourceSelectorRequirement, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch req.ScopeName {
	case corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopeTerminating,
		corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		if req.Operator != corev1.ScopeSelectorOpExists {
			errs = append(errs, field.Invalid(p.Child("operator"), req.Operator,
				"must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))
		}
	}
	switch req.Operator {
	case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
		if len(req.Values) == 0 {
			errs = append(errs, field.Required(p.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
		}
	case corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist:
		if len(req.Values) != 0 {
			errs = append(errs, field.Invalid(p.Child("values"), req.Values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
		}
	default:
		errs = append(errs, field.Invalid(p.Child("operator"), req.Operator, "not a valid selector operator"))
	}
	return errs
}

func rqConflictingScopes(seen sets.Set[corev1.ResourceQuotaScope], p *field.Path, value interface{}) field.ErrorList {
	if seen.HasAll(corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort) ||
		seen.HasAll(corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating) {
		return field.ErrorList{field.Invalid(p, value, "conflicting scopes")}
	}
	return nil
}

// rqValidateStatus is Kubernetes' ValidateResourceQuotaStatus.
func rqValidateStatus(st *corev1.ResourceQuotaStatus, p *field.Path) field.ErrorList {
	return append(rqValidateList(st.Hard, p.Child("hard")), rqValidateList(st.Used, p.Child("used"))...)
}

// rqTable prints quotas as Kubernetes' printResourceQuota: NAME AGE REQUEST LIMIT, each
// resource as "name: used/hard", limits.* under LIMIT.
func rqTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			ageColumn,
			column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume.", 0),
			column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.", 0),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			rq, ok := obj.(*corev1.ResourceQuota)
			if !ok {
				return nil, fmt.Errorf("resourcequota table: unexpected object %T", obj)
			}
			names := sortedKeys(rq.Status.Hard)
			sort.Strings(names)
			var req, lim bytes.Buffer
			for _, k := range names {
				n := corev1.ResourceName(k)
				w := &req
				if pieces := strings.Split(k, "."); len(pieces) > 1 && pieces[0] == "limits" {
					w = &lim
				}
				used, hard := rq.Status.Used[n], rq.Status.Hard[n]
				fmt.Fprintf(w, "%s: %s/%s, ", k, used.String(), hard.String())
			}
			return []interface{}{rq.Name, translateTimestampSince(rq.CreationTimestamp),
				strings.TrimSuffix(req.String(), ", "), strings.TrimSuffix(lim.String(), ", ")}, nil
		},
	}
}
