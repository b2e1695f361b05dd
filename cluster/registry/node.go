package registry

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var nodeTaintEffects = []string{string(corev1.TaintEffectNoExecute), string(corev1.TaintEffectNoSchedule),
	string(corev1.TaintEffectPreferNoSchedule)}

// nodeResource describes the nodes resource.
func nodeResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "nodes", Kind: "Node", SingularName: "node",
		ShortNames: []string{"no"}, Subresources: []string{"status"}, HasStatus: true,
		New:            func() runtime.Object { return &corev1.Node{} },
		NewList:        func() runtime.Object { return &corev1.NodeList{} },
		NameValidation: apivalidation.NameIsDNSSubdomain,
		Default:        func(obj runtime.Object) { nodeDefault(obj.(*corev1.Node)) },
		Validate:       func(obj runtime.Object) field.ErrorList { return nodeValidate(obj.(*corev1.Node)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return nodeValidateUpdate(obj.(*corev1.Node), old.(*corev1.Node))
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			return nodeValidateUpdate(obj.(*corev1.Node), old.(*corev1.Node))
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"spec.unschedulable": strconv.FormatBool(obj.(*corev1.Node).Spec.Unschedulable)}
		},
		Table: nodeTable(),
	}
}

// nodeDefault keeps podCIDR and podCIDRs[0] in step (as the v1 conversion does) and
// defaults allocatable to capacity.
func nodeDefault(n *corev1.Node) {
	if n.Spec.PodCIDR != "" && len(n.Spec.PodCIDRs) == 0 {
		n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
	} else if n.Spec.PodCIDR == "" && len(n.Spec.PodCIDRs) > 0 {
		n.Spec.PodCIDR = n.Spec.PodCIDRs[0]
	}
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = n.Status.Capacity.DeepCopy()
	}
}

// nodeValidate checks pod CIDRs (valid, one per family, no duplicates) and taints.
func nodeValidate(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("spec", "podCIDRs")
	seen := map[string]bool{}
	for i, c := range n.Spec.PodCIDRs {
		errs = append(errs, validation.IsValidCIDR(path.Index(i), c)...)
		if seen[c] {
			errs = append(errs, field.Duplicate(path.Index(i), c))
		}
		seen[c] = true
	}
	if len(n.Spec.PodCIDRs) > 2 || (len(n.Spec.PodCIDRs) == 2 && nodeIsIPv6CIDR(n.Spec.PodCIDRs[0]) == nodeIsIPv6CIDR(n.Spec.PodCIDRs[1])) {
		errs = append(errs, field.Invalid(path, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
	}
	for i, t := range n.Spec.Taints {
		tp := field.NewPath("spec", "taints").Index(i)
		for _, msg := range validation.IsQualifiedName(t.Key) {
			errs = append(errs, field.Invalid(tp.Child("key"), t.Key, msg))
		}
		if t.Value != "" {
			for _, msg := range validation.IsValidLabelValue(t.Value) {
				errs = append(errs, field.Invalid(tp.Child("value"), t.Value, msg))
			}
		}
		if t.Effect == "" {
			errs = append(errs, field.Required(tp.Child("effect"), ""))
		} else if !slices.Contains(nodeTaintEffects, string(t.Effect)) {
			errs = append(errs, field.NotSupported(tp.Child("effect"), t.Effect, nodeTaintEffects))
		}
	}
	return errs
}

// nodeIsIPv6CIDR reports whether a CIDR string is IPv6.
func nodeIsIPv6CIDR(c string) bool { return strings.Contains(c, ":") }

// nodeValidateUpdate forbids changing pod CIDRs and providerID once set, and duplicate
// status addresses.
func nodeValidateUpdate(n, old *corev1.Node) field.ErrorList {
	errs := nodeValidate(n)
	seen := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if seen[a] {
			errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	if len(old.Spec.PodCIDRs) > 0 && !slices.Equal(old.Spec.PodCIDRs, n.Spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), `node updates may not change podCIDR except from "" to valid`))
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), `node updates may not change providerID except from "" to valid`))
	}
	return errs
}
