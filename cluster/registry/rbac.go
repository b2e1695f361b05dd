package registry

import (
	"fmt"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RBACGroup is rbac.authorization.k8s.io.
const RBACGroup = rbacv1.GroupName

// rbacName is Kubernetes' ValidateRBACName: any valid path segment (":" included).
func rbacName(name string, prefix bool) []string { return path.IsValidPathSegmentName(name) }

// roleResource describes rbac.authorization.k8s.io/v1 roles.
func roleResource() *Resource {
	return &Resource{
		Group: RBACGroup, Version: "v1", Resource: "roles", Kind: "Role", SingularName: "role", Namespaced: true,
		New:            func() runtime.Object { return &rbacv1.Role{} },
		NewList:        func() runtime.Object { return &rbacv1.RoleList{} },
		NameValidation: rbacName,
		Validate:       func(obj runtime.Object) field.ErrorList { return validateRules(obj.(*rbacv1.Role).Rules, true) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validateRules(obj.(*rbacv1.Role).Rules, true) },
		Table:          createdAtTable("role"),
	}
}

// clusterRoleResource describes rbac.authorization.k8s.io/v1 clusterroles.
func clusterRoleResource() *Resource {
	return &Resource{
		Group: RBACGroup, Version: "v1", Resource: "clusterroles", Kind: "ClusterRole", SingularName: "clusterrole",
		New:            func() runtime.Object { return &rbacv1.ClusterRole{} },
		NewList:        func() runtime.Object { return &rbacv1.ClusterRoleList{} },
		NameValidation: rbacName,
		Validate:       func(obj runtime.Object) field.ErrorList { return validateClusterRole(obj.(*rbacv1.ClusterRole)) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return validateClusterRole(obj.(*rbacv1.ClusterRole)) },
		Table:          createdAtTable("clusterrole"),
	}
}

// roleBindingResource describes rbac.authorization.k8s.io/v1 rolebindings.
func roleBindingResource() *Resource {
	return &Resource{
		Group: RBACGroup, Version: "v1", Resource: "rolebindings", Kind: "RoleBinding", SingularName: "rolebinding", Namespaced: true,
		New:            func() runtime.Object { return &rbacv1.RoleBinding{} },
		NewList:        func() runtime.Object { return &rbacv1.RoleBindingList{} },
		NameValidation: rbacName,
		Default: func(obj runtime.Object) {
			b := obj.(*rbacv1.RoleBinding)
			defaultBinding(&b.RoleRef, b.Subjects)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			b := obj.(*rbacv1.RoleBinding)
			return validateBinding(b.RoleRef, b.Subjects, true)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			b, o := obj.(*rbacv1.RoleBinding), old.(*rbacv1.RoleBinding)
			return append(validateBinding(b.RoleRef, b.Subjects, true), roleRefImmutable(b.RoleRef, o.RoleRef)...)
		},
		Table: bindingTable("rolebinding"),
	}
}

// clusterRoleBindingResource describes rbac.authorization.k8s.io/v1 clusterrolebindings.
func clusterRoleBindingResource() *Resource {
	return &Resource{
		Group: RBACGroup, Version: "v1", Resource: "clusterrolebindings", Kind: "ClusterRoleBinding", SingularName: "clusterrolebinding",
		New:            func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
		NewList:        func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
		NameValidation: rbacName,
		Default: func(obj runtime.Object) {
			b := obj.(*rbacv1.ClusterRoleBinding)
			defaultBinding(&b.RoleRef, b.Subjects)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			b := obj.(*rbacv1.ClusterRoleBinding)
			return validateBinding(b.RoleRef, b.Subjects, false)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			b, o := obj.(*rbacv1.ClusterRoleBinding), old.(*rbacv1.ClusterRoleBinding)
			return append(validateBinding(b.RoleRef, b.Subjects, false), roleRefImmutable(b.RoleRef, o.RoleRef)...)
		},
		Table: bindingTable("clusterrolebinding"),
	}
}

// defaultBinding fills roleRef.apiGroup and the subjects' apiGroup as Kubernetes' v1 defaults.
func defaultBinding(ref *rbacv1.RoleRef, subjects []rbacv1.Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = RBACGroup
	}
	for i := range subjects {
		s := &subjects[i]
		if s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = RBACGroup
		}
	}
}

// validateRules is Kubernetes' ValidatePolicyRule for each rule.
func validateRules(rules []rbacv1.PolicyRule, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		p := field.NewPath("rules").Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return errs
}

func validateClusterRole(r *rbacv1.ClusterRole) field.ErrorList {
	errs := validateRules(r.Rules, false)
	if r.AggregationRule != nil {
		p := field.NewPath("aggregationRule")
		if len(r.AggregationRule.ClusterRoleSelectors) == 0 {
			errs = append(errs, field.Required(p.Child("clusterRoleSelectors"), "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i := range r.AggregationRule.ClusterRoleSelectors {
			errs = append(errs, metav1validation.ValidateLabelSelector(&r.AggregationRule.ClusterRoleSelectors[i],
				metav1validation.LabelSelectorValidationOptions{}, p.Child("clusterRoleSelectors").Index(i))...)
		}
	}
	return errs
}

// validateBinding is Kubernetes' ValidateRoleBinding / ValidateClusterRoleBinding without
// the metadata (checked by the server).
func validateBinding(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	rp := field.NewPath("roleRef")
	if ref.APIGroup != RBACGroup {
		errs = append(errs, field.NotSupported(rp.Child("apiGroup"), ref.APIGroup, []string{RBACGroup}))
	}
	if namespaced {
		if ref.Kind != "Role" && ref.Kind != "ClusterRole" {
			errs = append(errs, field.NotSupported(rp.Child("kind"), ref.Kind, []string{"Role", "ClusterRole"}))
		}
	} else if ref.Kind != "ClusterRole" {
		errs = append(errs, field.NotSupported(rp.Child("kind"), ref.Kind, []string{"ClusterRole"}))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(rp.Child("name"), ""))
	} else {
		for _, msg := range rbacName(ref.Name, false) {
			errs = append(errs, field.Invalid(rp.Child("name"), ref.Name, msg))
		}
	}
	for i, s := range subjects {
		p := field.NewPath("subjects").Index(i)
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			if s.Name != "" {
				for _, msg := range apivalidation.NameIsDNSSubdomain(s.Name, false) {
					errs = append(errs, field.Invalid(p.Child("name"), s.Name, msg))
				}
			}
			if s.APIGroup != "" {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
			}
			if !namespaced && s.Namespace == "" {
				errs = append(errs, field.Required(p.Child("namespace"), ""))
			}
		case rbacv1.UserKind, rbacv1.GroupKind:
			if s.APIGroup != RBACGroup {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{RBACGroup}))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
		}
	}
	return errs
}

func roleRefImmutable(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
	}
	return nil
}

// createdAtTable prints roles and cluster roles: NAME CREATED AT, as kubectl does.
func createdAtTable(what string) *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			var m metav1.ObjectMeta
			switch o := obj.(type) {
			case *rbacv1.Role:
				m = o.ObjectMeta
			case *rbacv1.ClusterRole:
				m = o.ObjectMeta
			default:
				return nil, fmt.Errorf("%s table: unexpected object %T", what, obj)
			}
			return []interface{}{m.Name, m.CreationTimestamp.UTC().Format(time.RFC3339)}, nil
		},
	}
}

// bindingTable prints bindings: NAME ROLE AGE, and with -o wide USERS GROUPS
// SERVICEACCOUNTS, as kubectl does.
func bindingTable(what string) *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Role", "string", rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"], 0),
			ageColumn,
			column("Users", "string", "Users in the roleBinding", 1),
			column("Groups", "string", "Groups in the roleBinding", 1),
			column("ServiceAccounts", "string", "ServiceAccounts in the roleBinding", 1),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			var m metav1.ObjectMeta
			var ref rbacv1.RoleRef
			var subjects []rbacv1.Subject
			switch o := obj.(type) {
			case *rbacv1.RoleBinding:
				m, ref, subjects = o.ObjectMeta, o.RoleRef, o.Subjects
			case *rbacv1.ClusterRoleBinding:
				m, ref, subjects = o.ObjectMeta, o.RoleRef, o.Subjects
			default:
				return nil, fmt.Errorf("%s table: unexpected object %T", what, obj)
			}
			var users, groups, sas []string
			for _, s := range subjects {
				switch s.Kind {
				case rbacv1.ServiceAccountKind:
					sas = append(sas, s.Namespace+"/"+s.Name)
				case rbacv1.UserKind:
					users = append(users, s.Name)
				case rbacv1.GroupKind:
					groups = append(groups, s.Name)
				}
			}
			return []interface{}{m.Name, ref.Kind + "/" + ref.Name, translateTimestampSince(m.CreationTimestamp),
				strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}, nil
		},
	}
}
