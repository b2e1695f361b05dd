package registry

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// SchedulingGroup is the API group of PriorityClasses.
const SchedulingGroup = schedulingv1.GroupName

// Kubernetes' priority constants (pkg/apis/scheduling/types.go).
const (
	// HighestUserDefinablePriority is the highest value a PriorityClass not named system-*
	// may have; larger values are the system's.
	HighestUserDefinablePriority = int32(1000000000)
	// SystemCriticalPriority is the value of system-cluster-critical.
	SystemCriticalPriority = 2 * HighestUserDefinablePriority
	// SystemPriorityClassPrefix starts the names reserved for the system classes.
	SystemPriorityClassPrefix = "system-"
)

// SystemPriorityClasses are the classes kube-apiserver creates at start and refuses to delete
// (pkg/apis/scheduling/v1/helpers.go): system-node-critical and system-cluster-critical. Each
// call returns new objects.
func SystemPriorityClasses() []*schedulingv1.PriorityClass {
	return []*schedulingv1.PriorityClass{
		{
			ObjectMeta:  metav1.ObjectMeta{Name: SystemPriorityClassPrefix + "node-critical"},
			Value:       SystemCriticalPriority + 1000,
			Description: "Used for system critical pods that must not be moved from their current node.",
		},
		{
			ObjectMeta:  metav1.ObjectMeta{Name: SystemPriorityClassPrefix + "cluster-critical"},
			Value:       SystemCriticalPriority,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
		},
	}
}

// IsSystemPriorityClass reports whether name is one of SystemPriorityClasses.
func IsSystemPriorityClass(name string) bool {
	for _, pc := range SystemPriorityClasses() {
		if pc.Name == name {
			return true
		}
	}
	return false
}

// priorityClassResource describes the scheduling.k8s.io/v1 priorityclasses resource. The API
// server resolves a pod's spec.priorityClassName through them (its Priority admission).
func priorityClassResource() *Resource {
	return &Resource{
		Group: SchedulingGroup, Version: "v1", Resource: "priorityclasses", Kind: "PriorityClass", SingularName: "priorityclass",
		ShortNames: []string{"pc"}, KeepsGeneration: true,
		New:     func() runtime.Object { return &schedulingv1.PriorityClass{} },
		NewList: func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		Default: func(obj runtime.Object) { priorityClassDefault(obj.(*schedulingv1.PriorityClass)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return priorityClassValidate(obj.(*schedulingv1.PriorityClass))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return priorityClassValidateUpdate(obj.(*schedulingv1.PriorityClass), old.(*schedulingv1.PriorityClass))
		},
		Table: priorityClassTable(),
	}
}

// priorityClassDefault is Kubernetes' SetDefaults_PriorityClass: preemptionPolicy
// PreemptLowerPriority.
func priorityClassDefault(pc *schedulingv1.PriorityClass) {
	if pc.PreemptionPolicy == nil {
		pc.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority)
	}
}

// priorityClassValidate is Kubernetes' ValidatePriorityClass
// (pkg/apis/scheduling/validation/validation.go): a system-* name must be one of the system
// classes with its value and globalDefault; any other class's value is at most
// HighestUserDefinablePriority; preemptionPolicy PreemptLowerPriority or Never.
func priorityClassValidate(pc *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if strings.HasPrefix(pc.Name, SystemPriorityClassPrefix) {
		if err := priorityClassKnownSystem(pc); err != nil {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"),
				"priority class names with '"+SystemPriorityClassPrefix+"' prefix are reserved for system use only. error: "+err.Error()))
		}
	} else if pc.Value > HighestUserDefinablePriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", HighestUserDefinablePriority)))
	}
	if pc.PreemptionPolicy != nil {
		errs = append(errs, ValidatePreemptionPolicy(pc.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	}
	return errs
}

// priorityClassKnownSystem is Kubernetes' IsKnownSystemPriorityClass: nil when pc is one of
// the system classes, with its value and globalDefault.
func priorityClassKnownSystem(pc *schedulingv1.PriorityClass) error {
	for _, spc := range SystemPriorityClasses() {
		if spc.Name != pc.Name {
			continue
		}
		if spc.Value != pc.Value {
			return fmt.Errorf("value of %v PriorityClass must be %v", spc.Name, spc.Value)
		}
		if spc.GlobalDefault != pc.GlobalDefault {
			return fmt.Errorf("globalDefault of %v PriorityClass must be %v", spc.Name, spc.GlobalDefault)
		}
		return nil
	}
	return fmt.Errorf("%v is not a known system priority class", pc.Name)
}

// priorityClassValidateUpdate is Kubernetes' ValidatePriorityClassUpdate: value and
// preemptionPolicy are immutable (the rest of ValidatePriorityClass is not checked again, as
// there).
func priorityClassValidateUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if pc.Value != old.Value {
		errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	return append(errs, apivalidation.ValidateImmutableField(pc.PreemptionPolicy, old.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
}

// ValidatePreemptionPolicy is Kubernetes' ValidatePreemptionPolicy (a PriorityClass's and a
// pod's preemptionPolicy).
func ValidatePreemptionPolicy(p *corev1.PreemptionPolicy, fldPath *field.Path) field.ErrorList {
	switch *p {
	case corev1.PreemptLowerPriority, corev1.PreemptNever:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return field.ErrorList{field.NotSupported(fldPath, *p, []string{string(corev1.PreemptLowerPriority), string(corev1.PreemptNever)})}
}

// priorityClassTable prints priority classes as Kubernetes' printers.go: NAME VALUE
// GLOBAL-DEFAULT AGE PREEMPTIONPOLICY (the server always prints wide there, and none of the
// columns has a priority, so kubectl shows PREEMPTIONPOLICY without -o wide too).
func priorityClassTable() *Table {
	doc := schedulingv1.PriorityClass{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Value", "integer", doc["value"], 0),
			column("Global-Default", "boolean", doc["globalDefault"], 0),
			ageColumn,
			column("PreemptionPolicy", "string", doc["preemptionPolicy"], 0),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			pc, ok := obj.(*schedulingv1.PriorityClass)
			if !ok {
				return nil, fmt.Errorf("priorityclass table: unexpected object %T", obj)
			}
			policy := ""
			if pc.PreemptionPolicy != nil {
				policy = string(*pc.PreemptionPolicy)
			}
			return []interface{}{pc.Name, int64(pc.Value), pc.GlobalDefault, translateTimestampSince(pc.CreationTimestamp), policy}, nil
		},
	}
}
