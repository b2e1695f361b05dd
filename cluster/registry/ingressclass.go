package registry

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// ingressClassControllerMaxLen is Kubernetes' maxLenIngressClassController.
const ingressClassControllerMaxLen = 250

// ingressClassResource describes the networking.k8s.io/v1 ingressclasses resource. The class
// annotated ingressclass.kubernetes.io/is-default-class: "true" is what the API server's
// DefaultIngressClass admission gives a new Ingress without a class.
func ingressClassResource() *Resource {
	return &Resource{
		Group: NetworkingGroup, Version: "v1", Resource: "ingressclasses", Kind: "IngressClass", SingularName: "ingressclass",
		New:     func() runtime.Object { return &networkingv1.IngressClass{} },
		NewList: func() runtime.Object { return &networkingv1.IngressClassList{} },
		Default: func(obj runtime.Object) { ingressClassDefault(obj.(*networkingv1.IngressClass)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return ingressClassValidate(obj.(*networkingv1.IngressClass))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, o := obj.(*networkingv1.IngressClass), old.(*networkingv1.IngressClass)
			errs := apivalidation.ValidateImmutableField(n.Spec.Controller, o.Spec.Controller, field.NewPath("spec", "controller"))
			return append(errs, ingressClassValidate(n)...)
		},
		Table: ingressClassTable(),
	}
}

// ingressClassDefault is Kubernetes' SetDefaults_IngressClass: parameters without a scope are
// cluster-scoped.
func ingressClassDefault(ic *networkingv1.IngressClass) {
	if p := ic.Spec.Parameters; p != nil && p.Scope == nil {
		p.Scope = ptr.To(networkingv1.IngressClassParametersReferenceScopeCluster)
	}
}

// ingressClassValidate is Kubernetes' validateIngressClassSpec: the controller a
// domain-prefixed path of at most 250 characters, the parameters a valid reference whose
// scope says whether it names a namespace.
func ingressClassValidate(ic *networkingv1.IngressClass) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec")
	if len(ic.Spec.Controller) > ingressClassControllerMaxLen {
		errs = append(errs, field.TooLong(p.Child("controller"), "", ingressClassControllerMaxLen))
	}
	errs = append(errs, validation.IsDomainPrefixedPath(p.Child("controller"), ic.Spec.Controller)...)
	params := ic.Spec.Parameters
	if params == nil {
		return errs
	}
	pp := p.Child("parameters")
	if g := params.APIGroup; g != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*g) {
			errs = append(errs, field.Invalid(pp.Child("apiGroup"), *g, msg))
		}
	}
	errs = append(errs, ingressValidatePathSegment(params.Kind, pp.Child("kind"), "kind is required")...)
	errs = append(errs, ingressValidatePathSegment(params.Name, pp.Child("name"), "name is required")...)
	if params.Scope == nil {
		return append(errs, field.Required(pp.Child("scope"), ""))
	}
	switch *params.Scope {
	case networkingv1.IngressClassParametersReferenceScopeNamespace:
		if params.Namespace == nil {
			errs = append(errs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
		} else {
			for _, msg := range apivalidation.ValidateNamespaceName(*params.Namespace, false) {
				errs = append(errs, field.Invalid(pp.Child("namespace"), *params.Namespace, msg))
			}
		}
	case networkingv1.IngressClassParametersReferenceScopeCluster:
		if params.Namespace != nil {
			errs = append(errs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
		}
	default:
		errs = append(errs, field.NotSupported(pp.Child("scope"), *params.Scope, []string{
			networkingv1.IngressClassParametersReferenceScopeCluster, networkingv1.IngressClassParametersReferenceScopeNamespace}))
	}
	return errs
}

// ingressClassTable prints ingress classes as Kubernetes' printIngressClass: NAME CONTROLLER
// PARAMETERS AGE.
func ingressClassTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Controller", "string", "Controller that is responsible for handling this class", 0),
			column("Parameters", "string", "A reference to a resource with additional parameters", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			ic, ok := obj.(*networkingv1.IngressClass)
			if !ok {
				return nil, fmt.Errorf("ingressclass table: unexpected object %T", obj)
			}
			params := "<none>"
			if p := ic.Spec.Parameters; p != nil {
				params = p.Kind
				if p.APIGroup != nil {
					params += "." + *p.APIGroup
				}
				params += "/" + p.Name
			}
			return []interface{}{ic.Name, ic.Spec.Controller, params, translateTimestampSince(ic.CreationTimestamp)}, nil
		},
	}
}
