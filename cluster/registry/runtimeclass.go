package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RuntimeClassDefaultHandler is the one container runtime handler drover's node agent has
// (Docker's default runtime, runc); a RuntimeClass naming another cannot run its pods.
const RuntimeClassDefaultHandler = "runc"

// runtimeClassResource describes the node.k8s.io/v1 runtimeclasses resource.
func runtimeClassResource() *Resource {
	return &Resource{
		Group: "node.k8s.io", Version: "v1", Resource: "runtimeclasses", Kind: "RuntimeClass", SingularName: "runtimeclass",
		New:      func() runtime.Object { return &nodev1.RuntimeClass{} },
		NewList:  func() runtime.Object { return &nodev1.RuntimeClassList{} },
		Validate: func(obj runtime.Object) field.ErrorList { return rcsValidate(obj.(*nodev1.RuntimeClass)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, o := obj.(*nodev1.RuntimeClass), old.(*nodev1.RuntimeClass)
			return append(rcsValidate(n), apivalidation.ValidateImmutableField(n.Handler, o.Handler, field.NewPath("handler"))...)
		},
		Table: rcsTable(),
	}
}

// rcsValidate is Kubernetes' ValidateRuntimeClass: the handler a DNS label, overhead as
// resource limits, scheduling's node selector as labels and its tolerations valid and unique.
func rcsValidate(rc *nodev1.RuntimeClass) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range apivalidation.NameIsDNSLabel(rc.Handler, false) {
		errs = append(errs, field.Invalid(field.NewPath("handler"), rc.Handler, msg))
	}
	if rc.Overhead != nil {
		errs = append(errs, podValidateResourceList(rc.Overhead.PodFixed, field.NewPath("overhead", "podFixed"))...)
	}
	if s := rc.Scheduling; s != nil {
		p := field.NewPath("scheduling")
		errs = append(errs, metav1validation.ValidateLabels(s.NodeSelector, p.Child("nodeSelector"))...)
		tp := p.Child("tolerations")
		errs = append(errs, podValidateTolerations(s.Tolerations, tp)...)
		seen := map[corev1.Toleration]bool{}
		for i, t := range s.Tolerations {
			key := corev1.Toleration{Key: t.Key, Operator: t.Operator, Value: t.Value, Effect: t.Effect}
			if seen[key] {
				errs = append(errs, field.Duplicate(tp.Index(i), t))
			}
			seen[key] = true
		}
	}
	return errs
}

// rcsTable prints runtime classes: NAME HANDLER AGE.
func rcsTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Handler", "string", nodev1.RuntimeClass{}.SwaggerDoc()["handler"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			rc, ok := obj.(*nodev1.RuntimeClass)
			if !ok {
				return nil, fmt.Errorf("runtimeclass table: unexpected object %T", obj)
			}
			return []interface{}{rc.Name, rc.Handler, translateTimestampSince(rc.CreationTimestamp)}, nil
		},
	}
}
