// Package rbac is Kubernetes' RBAC authorizer (plugin/pkg/auth/authorizer/rbac): Roles,
// ClusterRoles and their bindings decide what a user may do. It reads them from an Index kept
// in memory (the API server feeds it from a store watch), never from the store per request.
package rbac

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Index holds every Role, ClusterRole, RoleBinding and ClusterRoleBinding. It is safe for
// concurrent use; the objects it holds are never modified (Set stores its argument, which the
// caller must not change afterwards).
type Index struct {
	mu           sync.RWMutex
	clusterRoles map[string]*rbacv1.ClusterRole
	roles        map[string]map[string]*rbacv1.Role // namespace → name
	crbs         map[string]*rbacv1.ClusterRoleBinding
	crbList      []*rbacv1.ClusterRoleBinding // sorted by name; rebuilt on change
	rbs          map[string]map[string]*rbacv1.RoleBinding
	rbList       map[string][]*rbacv1.RoleBinding // per namespace, sorted by name
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{clusterRoles: map[string]*rbacv1.ClusterRole{}, roles: map[string]map[string]*rbacv1.Role{},
		crbs: map[string]*rbacv1.ClusterRoleBinding{}, rbs: map[string]map[string]*rbacv1.RoleBinding{},
		rbList: map[string][]*rbacv1.RoleBinding{}}
}

// Replace swaps the whole content for objs (after a relist).
func (x *Index) Replace(objs []interface{}) {
	n := NewIndex()
	for _, o := range objs {
		n.set(o)
	}
	n.rebuildCRBs()
	for ns := range n.rbs {
		n.rebuildRBs(ns)
	}
	x.mu.Lock()
	x.clusterRoles, x.roles, x.crbs, x.crbList, x.rbs, x.rbList = n.clusterRoles, n.roles, n.crbs, n.crbList, n.rbs, n.rbList
	x.mu.Unlock()
}

// Set adds or replaces one object (*rbacv1.Role, ClusterRole, RoleBinding or ClusterRoleBinding).
func (x *Index) Set(obj interface{}) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.set(obj)
	switch o := obj.(type) {
	case *rbacv1.ClusterRoleBinding:
		x.rebuildCRBs()
	case *rbacv1.RoleBinding:
		x.rebuildRBs(o.Namespace)
	}
}

func (x *Index) set(obj interface{}) {
	if x.newer(obj) {
		return // a watch event older than a write already noted
	}
	switch o := obj.(type) {
	case *rbacv1.ClusterRole:
		x.clusterRoles[o.Name] = o
	case *rbacv1.Role:
		if x.roles[o.Namespace] == nil {
			x.roles[o.Namespace] = map[string]*rbacv1.Role{}
		}
		x.roles[o.Namespace][o.Name] = o
	case *rbacv1.ClusterRoleBinding:
		x.crbs[o.Name] = o
	case *rbacv1.RoleBinding:
		if x.rbs[o.Namespace] == nil {
			x.rbs[o.Namespace] = map[string]*rbacv1.RoleBinding{}
		}
		x.rbs[o.Namespace][o.Name] = o
	}
}

// newer reports whether the index holds a later version of obj than obj.
func (x *Index) newer(obj interface{}) bool {
	var held metav1.Object
	var m metav1.Object
	switch o := obj.(type) {
	case *rbacv1.ClusterRole:
		m = o
		if h := x.clusterRoles[o.Name]; h != nil {
			held = h
		}
	case *rbacv1.Role:
		m = o
		if h := x.roles[o.Namespace][o.Name]; h != nil {
			held = h
		}
	case *rbacv1.ClusterRoleBinding:
		m = o
		if h := x.crbs[o.Name]; h != nil {
			held = h
		}
	case *rbacv1.RoleBinding:
		m = o
		if h := x.rbs[o.Namespace][o.Name]; h != nil {
			held = h
		}
	}
	if held == nil || m == nil || held.GetUID() != m.GetUID() {
		return false
	}
	a, errA := strconv.ParseInt(held.GetResourceVersion(), 10, 64)
	b, errB := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	return errA == nil && errB == nil && a > b
}

// Delete removes one object (only its kind, namespace and name count).
func (x *Index) Delete(obj interface{}) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch o := obj.(type) {
	case *rbacv1.ClusterRole:
		delete(x.clusterRoles, o.Name)
	case *rbacv1.Role:
		delete(x.roles[o.Namespace], o.Name)
		if len(x.roles[o.Namespace]) == 0 {
			delete(x.roles, o.Namespace)
		}
	case *rbacv1.ClusterRoleBinding:
		delete(x.crbs, o.Name)
		x.rebuildCRBs()
	case *rbacv1.RoleBinding:
		delete(x.rbs[o.Namespace], o.Name)
		if len(x.rbs[o.Namespace]) == 0 {
			delete(x.rbs, o.Namespace)
		}
		x.rebuildRBs(o.Namespace)
	}
}

func (x *Index) rebuildCRBs() {
	l := make([]*rbacv1.ClusterRoleBinding, 0, len(x.crbs))
	for _, b := range x.crbs {
		l = append(l, b)
	}
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	x.crbList = l
}

func (x *Index) rebuildRBs(ns string) {
	m := x.rbs[ns]
	if len(m) == 0 {
		delete(x.rbList, ns)
		return
	}
	l := make([]*rbacv1.RoleBinding, 0, len(m))
	for _, b := range m {
		l = append(l, b)
	}
	sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	x.rbList[ns] = l
}

// ClusterRole is the named ClusterRole (nil when there is none).
func (x *Index) ClusterRole(name string) *rbacv1.ClusterRole {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.clusterRoles[name]
}

// ClusterRoles are every ClusterRole, sorted by name.
func (x *Index) ClusterRoles() []*rbacv1.ClusterRole {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]*rbacv1.ClusterRole, 0, len(x.clusterRoles))
	for _, r := range x.clusterRoles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var (
	clusterRoleGR = schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterrole"}
	roleGR        = schema.GroupResource{Group: rbacv1.GroupName, Resource: "role"}
)

// roleRefRules are the rules a binding's roleRef names (bindingNS: the RoleBinding's
// namespace, "" for a ClusterRoleBinding). Call with x.mu held for reading.
func (x *Index) roleRefRules(ref rbacv1.RoleRef, bindingNS string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		r := x.roles[bindingNS][ref.Name]
		if r == nil {
			return nil, apierrors.NewNotFound(roleGR, ref.Name)
		}
		return r.Rules, nil
	case "ClusterRole":
		r := x.clusterRoles[ref.Name]
		if r == nil {
			return nil, apierrors.NewNotFound(clusterRoleGR, ref.Name)
		}
		return r.Rules, nil
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}

// RoleRefRules are the rules of the role a binding in namespace ns (""  for a
// ClusterRoleBinding) refers to.
func (x *Index) RoleRefRules(ref rbacv1.RoleRef, ns string) ([]rbacv1.PolicyRule, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.roleRefRules(ref, ns)
}

// source names the binding that granted a rule, for the reason of an allowed request.
type source struct {
	crb *rbacv1.ClusterRoleBinding
	rb  *rbacv1.RoleBinding
	sub *rbacv1.Subject
}

func (s source) String() string {
	if s.crb != nil {
		return fmt.Sprintf("ClusterRoleBinding %q of %s %q to %s", s.crb.Name, s.crb.RoleRef.Kind, s.crb.RoleRef.Name, describeSubject(s.sub, ""))
	}
	return fmt.Sprintf("RoleBinding %q of %s %q to %s", s.rb.Name+"/"+s.rb.Namespace, s.rb.RoleRef.Kind, s.rb.RoleRef.Name, describeSubject(s.sub, s.rb.Namespace))
}

func describeSubject(s *rbacv1.Subject, bindingNamespace string) string {
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if s.Namespace != "" {
			return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+s.Namespace)
		}
		return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+bindingNamespace)
	default:
		return fmt.Sprintf("%s %q", s.Kind, s.Name)
	}
}

// visitRulesFor calls visit with every rule that applies to u in namespace ns (cluster-wide
// bindings first, then the namespace's), as Kubernetes' DefaultRuleResolver.VisitRulesFor;
// visit returns false to stop. Missing roles are passed as errors.
func (x *Index) visitRulesFor(u user.Info, ns string, visit func(src source, rule *rbacv1.PolicyRule, err error) bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, b := range x.crbList {
		sub, ok := appliesTo(u, b.Subjects, "")
		if !ok {
			continue
		}
		rules, err := x.roleRefRules(b.RoleRef, "")
		if err != nil {
			if !visit(source{}, nil, err) {
				return
			}
			continue
		}
		src := source{crb: b, sub: sub}
		for i := range rules {
			if !visit(src, &rules[i], nil) {
				return
			}
		}
	}
	if ns == "" {
		return
	}
	for _, b := range x.rbList[ns] {
		sub, ok := appliesTo(u, b.Subjects, ns)
		if !ok {
			continue
		}
		rules, err := x.roleRefRules(b.RoleRef, ns)
		if err != nil {
			if !visit(source{}, nil, err) {
				return
			}
			continue
		}
		src := source{rb: b, sub: sub}
		for i := range rules {
			if !visit(src, &rules[i], nil) {
				return
			}
		}
	}
}

// appliesTo finds the subject that names u (bindingNS is the namespace ServiceAccount
// subjects without one default to).
func appliesTo(u user.Info, subjects []rbacv1.Subject, bindingNS string) (*rbacv1.Subject, bool) {
	for i := range subjects {
		if appliesToUser(u, &subjects[i], bindingNS) {
			return &subjects[i], true
		}
	}
	return nil, false
}

func appliesToUser(u user.Info, s *rbacv1.Subject, ns string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return u.GetName() == s.Name
	case rbacv1.GroupKind:
		return slices.Contains(u.GetGroups(), s.Name)
	case rbacv1.ServiceAccountKind:
		saNS := ns
		if s.Namespace != "" {
			saNS = s.Namespace
		}
		if saNS == "" {
			return false
		}
		return serviceaccount.MatchesUsername(saNS, s.Name, u.GetName())
	}
	return false
}

// Authorizer is the RBAC authorizer over an Index.
type Authorizer struct{ index *Index }

// NewAuthorizer returns the RBAC authorizer of x.
func NewAuthorizer(x *Index) *Authorizer { return &Authorizer{index: x} }

// Authorize allows what a rule bound to the user allows; it never denies (no opinion lets
// other authorizers decide), as Kubernetes' RBAC authorizer.
func (a *Authorizer) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	u := attrs.GetUser()
	if u == nil {
		return authorizer.DecisionNoOpinion, "", nil
	}
	var (
		allowed bool
		reason  string
		errs    []error
	)
	a.index.visitRulesFor(u, attrs.GetNamespace(), func(src source, rule *rbacv1.PolicyRule, err error) bool {
		if err != nil {
			errs = append(errs, err)
			return true
		}
		if RuleAllows(attrs, rule) {
			allowed = true
			reason = "RBAC: allowed by " + src.String()
			return false
		}
		return true
	})
	if allowed {
		return authorizer.DecisionAllow, reason, nil
	}
	if len(errs) > 0 {
		return authorizer.DecisionNoOpinion, fmt.Sprintf("RBAC: %v", utilerrors.NewAggregate(errs)), nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// Rules are the rules that apply to u in namespace ns (cluster-wide ones included), and the
// errors met (missing roles).
func (x *Index) Rules(u user.Info, ns string) ([]rbacv1.PolicyRule, []error) {
	var rules []rbacv1.PolicyRule
	var errs []error
	x.visitRulesFor(u, ns, func(_ source, rule *rbacv1.PolicyRule, err error) bool {
		if err != nil {
			errs = append(errs, err)
		} else {
			rules = append(rules, *rule)
		}
		return true
	})
	return rules, errs
}

// RulesFor lists what u may do in namespace ns (SelfSubjectRulesReview).
func (a *Authorizer) RulesFor(_ context.Context, u user.Info, ns string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	rules, errs := a.index.Rules(u, ns)
	var res []authorizer.ResourceRuleInfo
	var non []authorizer.NonResourceRuleInfo
	for _, r := range rules {
		if len(r.Resources) > 0 {
			res = append(res, &authorizer.DefaultResourceRuleInfo{Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
		}
		if len(r.NonResourceURLs) > 0 {
			non = append(non, &authorizer.DefaultNonResourceRuleInfo{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
		}
	}
	return res, non, len(errs) > 0, utilerrors.NewAggregate(errs)
}

// RuleAllows reports whether rule allows the request, as Kubernetes' rbac.RuleAllows.
func RuleAllows(a authorizer.Attributes, rule *rbacv1.PolicyRule) bool {
	if a.IsResourceRequest() {
		combined := a.GetResource()
		if a.GetSubresource() != "" {
			combined += "/" + a.GetSubresource()
		}
		return verbMatches(rule, a.GetVerb()) && apiGroupMatches(rule, a.GetAPIGroup()) &&
			resourceMatches(rule, combined, a.GetSubresource()) && resourceNameMatches(rule, a.GetName())
	}
	return verbMatches(rule, a.GetVerb()) && nonResourceURLMatches(rule, a.GetPath())
}

func verbMatches(rule *rbacv1.PolicyRule, verb string) bool {
	for _, v := range rule.Verbs {
		if v == rbacv1.VerbAll || v == verb {
			return true
		}
	}
	return false
}

func apiGroupMatches(rule *rbacv1.PolicyRule, group string) bool {
	for _, g := range rule.APIGroups {
		if g == rbacv1.APIGroupAll || g == group {
			return true
		}
	}
	return false
}

// resourceMatches: "*" matches everything, "pods/log" its subresource, "*/scale" the scale
// subresource of any resource.
func resourceMatches(rule *rbacv1.PolicyRule, combined, sub string) bool {
	for _, r := range rule.Resources {
		if r == rbacv1.ResourceAll || r == combined {
			return true
		}
		if sub != "" && len(r) == len(sub)+2 && strings.HasPrefix(r, "*/") && strings.HasSuffix(r, sub) {
			return true
		}
	}
	return false
}

func resourceNameMatches(rule *rbacv1.PolicyRule, name string) bool {
	if len(rule.ResourceNames) == 0 {
		return true
	}
	return slices.Contains(rule.ResourceNames, name)
}

func nonResourceURLMatches(rule *rbacv1.PolicyRule, path string) bool {
	for _, u := range rule.NonResourceURLs {
		if u == rbacv1.NonResourceAll || u == path {
			return true
		}
		if strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimRight(u, "*")) {
			return true
		}
	}
	return false
}
