package registry

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// lrResource describes the limitranges resource: per-container, per-pod and per-claim
// defaults and bounds the API server's LimitRanger admission applies.
func lrResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "limitranges", Kind: "LimitRange", SingularName: "limitrange",
		ShortNames: []string{"limits"}, Namespaced: true,
		New:      func() runtime.Object { return &corev1.LimitRange{} },
		NewList:  func() runtime.Object { return &corev1.LimitRangeList{} },
		Default:  func(obj runtime.Object) { lrDefault(obj.(*corev1.LimitRange)) },
		Validate: func(obj runtime.Object) field.ErrorList { return lrValidate(obj.(*corev1.LimitRange)) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return lrValidate(obj.(*corev1.LimitRange))
		},
		Table: lrTable(),
	}
}

// lrDefault is Kubernetes' SetDefaults_LimitRangeItem: for Container limits, default falls back
// to max, defaultRequest to default, then to min.
func lrDefault(lr *corev1.LimitRange) {
	for i := range lr.Spec.Limits {
		l := &lr.Spec.Limits[i]
		if l.Type != corev1.LimitTypeContainer {
			continue
		}
		if l.Default == nil {
			l.Default = corev1.ResourceList{}
		}
		if l.DefaultRequest == nil {
			l.DefaultRequest = corev1.ResourceList{}
		}
		for k, v := range l.Max {
			if _, ok := l.Default[k]; !ok {
				l.Default[k] = v.DeepCopy()
			}
		}
		for k, v := range l.Default {
			if _, ok := l.DefaultRequest[k]; !ok {
				l.DefaultRequest[k] = v.DeepCopy()
			}
		}
		for k, v := range l.Min {
			if _, ok := l.DefaultRequest[k]; !ok {
				l.DefaultRequest[k] = v.DeepCopy()
			}
		}
	}
}

// lrItem is one resource of one limit: which of min, max, default, defaultRequest and
// maxLimitRequestRatio name it.
type lrItem struct {
	min, max, def, defReq, ratio          resource.Quantity
	hasMin, hasMax, hasDef, hasReq, hasRa bool
}

// lrValidate is Kubernetes' ValidateLimitRange.
func lrValidate(lr *corev1.LimitRange) field.ErrorList {
	var errs field.ErrorList
	types := map[corev1.LimitType]bool{}
	for i := range lr.Spec.Limits {
		p := field.NewPath("spec", "limits").Index(i)
		limit := &lr.Spec.Limits[i]
		errs = append(errs, lrValidateType(string(limit.Type), p.Child("type"))...)
		if types[limit.Type] {
			errs = append(errs, field.Duplicate(p.Child("type"), limit.Type))
		}
		types[limit.Type] = true
		items := map[string]*lrItem{}
		item := func(k string) *lrItem {
			if items[k] == nil {
				items[k] = &lrItem{}
			}
			return items[k]
		}
		each := func(l corev1.ResourceList, name string, set func(*lrItem, resource.Quantity)) {
			for _, k := range sortedKeys(l) {
				errs = append(errs, lrValidateResourceName(limit.Type, corev1.ResourceName(k), p.Child(name).Key(k))...)
				set(item(k), l[corev1.ResourceName(k)])
			}
		}
		each(limit.Max, "max", func(it *lrItem, q resource.Quantity) { it.max, it.hasMax = q, true })
		each(limit.Min, "min", func(it *lrItem, q resource.Quantity) { it.min, it.hasMin = q, true })
		if limit.Type == corev1.LimitTypePod {
			if len(limit.Default) > 0 {
				errs = append(errs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(limit.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(p.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		} else {
			each(limit.Default, "default", func(it *lrItem, q resource.Quantity) { it.def, it.hasDef = q, true })
			each(limit.DefaultRequest, "defaultRequest", func(it *lrItem, q resource.Quantity) { it.defReq, it.hasReq = q, true })
		}
		if limit.Type == corev1.LimitTypePersistentVolumeClaim {
			_, okMin := limit.Min[corev1.ResourceStorage]
			_, okMax := limit.Max[corev1.ResourceStorage]
			if !okMin && !okMax {
				errs = append(errs, field.Required(p.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		each(limit.MaxLimitRequestRatio, "maxLimitRequestRatio", func(it *lrItem, q resource.Quantity) { it.ratio, it.hasRa = q, true })
		for _, k := range sortedKeys(items) {
			errs = append(errs, lrValidateItem(k, items[k], p)...)
		}
	}
	return errs
}

// lrValidateItem checks that one resource's bounds, defaults and ratio agree.
func lrValidateItem(k string, it *lrItem, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	bad := func(child string, q resource.Quantity, format string, args ...interface{}) {
		errs = append(errs, field.Invalid(p.Child(child).Key(k), q.String(), fmt.Sprintf(format, args...)))
	}
	if it.hasMin && it.hasMax && it.min.Cmp(it.max) > 0 {
		bad("min", it.min, "min value %s is greater than max value %s", it.min.String(), it.max.String())
	}
	if it.hasReq && it.hasMin && it.min.Cmp(it.defReq) > 0 {
		bad("defaultRequest", it.defReq, "min value %s is greater than default request value %s", it.min.String(), it.defReq.String())
	}
	if it.hasReq && it.hasMax && it.defReq.Cmp(it.max) > 0 {
		bad("defaultRequest", it.defReq, "default request value %s is greater than max value %s", it.defReq.String(), it.max.String())
	}
	if it.hasReq && it.hasDef && it.defReq.Cmp(it.def) > 0 {
		bad("defaultRequest", it.defReq, "default request value %s is greater than default limit value %s", it.defReq.String(), it.def.String())
	}
	if it.hasDef && it.hasMin && it.min.Cmp(it.def) > 0 {
		bad("default", it.min, "min value %s is greater than default value %s", it.min.String(), it.def.String())
	}
	if it.hasDef && it.hasMax && it.def.Cmp(it.max) > 0 {
		bad("default", it.max, "default value %s is greater than max value %s", it.def.String(), it.max.String())
	}
	if it.hasRa && it.ratio.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
		bad("maxLimitRequestRatio", it.ratio, "ratio %s is less than 1", it.ratio.String())
	}
	if it.hasRa && it.hasMin && it.hasMax {
		ratio, minV, maxV := float64(it.ratio.Value()), it.min.Value(), it.max.Value()
		if it.ratio.Value() < resource.MaxMilliValue && minV < resource.MaxMilliValue && maxV < resource.MaxMilliValue {
			ratio, minV, maxV = float64(it.ratio.MilliValue())/1000, it.min.MilliValue(), it.max.MilliValue()
		}
		if limit := float64(maxV) / float64(minV); ratio > limit {
			bad("maxLimitRequestRatio", it.ratio, "ratio %s is greater than max/min = %f", it.ratio.String(), limit)
		}
	}
	// Resources that cannot be overcommitted (hugepages, extended) need default == defaultRequest.
	native := !strings.Contains(k, "/") || strings.Contains(k, "kubernetes.io/")
	if !(native && !strings.HasPrefix(k, corev1.ResourceHugePagesPrefix)) && it.hasDef && it.hasReq && it.def.Cmp(it.defReq) != 0 {
		bad("defaultRequest", it.defReq, "default value %s must equal to defaultRequest value %s in %s", it.def.String(), it.defReq.String(), k)
	}
	return errs
}

func lrValidateType(v string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(v) {
		errs = append(errs, field.Invalid(p, v, msg))
	}
	if len(errs) == 0 && !strings.Contains(v, "/") &&
		!sets.New(corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim).Has(corev1.LimitType(v)) {
		errs = append(errs, field.Invalid(p, v, "must be a standard limit type or fully qualified"))
	}
	return errs
}

// lrValidateResourceName: containers and pods take container resources, other types any
// standard or qualified resource name.
func lrValidateResourceName(t corev1.LimitType, n corev1.ResourceName, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(string(n)) {
		errs = append(errs, field.Invalid(p, n, msg))
	}
	if len(errs) > 0 {
		return errs
	}
	qualified := strings.Contains(string(n), "/")
	if !qualified && !standardResources.Has(n) && !isHugePageQuotaName(n) {
		return append(errs, field.Invalid(p, n, "must be a standard resource type or fully qualified"))
	}
	if t != corev1.LimitTypePod && t != corev1.LimitTypeContainer {
		return errs
	}
	switch {
	case !qualified:
		if n != corev1.ResourceCPU && n != corev1.ResourceMemory && n != corev1.ResourceEphemeralStorage &&
			!strings.HasPrefix(string(n), corev1.ResourceHugePagesPrefix) {
			errs = append(errs, field.Invalid(p, n, "must be a standard resource for containers"))
		}
	case !strings.Contains(string(n), "kubernetes.io/") && !isExtendedResourceName(n):
		errs = append(errs, field.Invalid(p, n, "doesn't have a known prefix"))
	}
	return errs
}

// lrTable prints limit ranges as Kubernetes does: NAME CREATED AT.
func lrTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Created At", "date", metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"], 0),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			lr, ok := obj.(*corev1.LimitRange)
			if !ok {
				return nil, fmt.Errorf("limitrange table: unexpected object %T", obj)
			}
			return []interface{}{lr.Name, lr.CreationTimestamp.UTC().Format(time.RFC3339)}, nil
		},
	}
}
