package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

// The bootstrap policy: Kubernetes 1.32's default ClusterRoles and ClusterRoleBindings
// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy), trimmed to the API groups drover serves.
// The API server reconciles them at start as kube-apiserver does: missing ones are created,
// missing rules, subjects, labels and annotations added, unless an operator set the
// autoupdate annotation to "false".

const (
	// AutoUpdateAnnotation on a default role or binding: "false" stops the reconciliation.
	AutoUpdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate"
	// BootstrappingLabel marks the default roles and bindings.
	BootstrappingLabel = "kubernetes.io/bootstrapping"

	// ControllerManagerRole is the ClusterRole of drover's controller manager (all its
	// controllers), bound to user system:kube-controller-manager.
	ControllerManagerRole = "system:drover:controller-manager"
	// JenkinsProvider is the user the Jenkins cloud provider acts as, and its ClusterRole:
	// agent pods, their secrets, the swarm pools' RCs, cache claims and volumes, the
	// provider's status ConfigMaps; reads of the services, endpoints and nodes it follows.
	JenkinsProvider = "system:drover:jenkins-provider"
	// NodeBootstrapGroup is the group of the bootstrap tokens `drover token create` makes
	// (kubeadm's system:bootstrappers:kubeadm:default-node-token).
	NodeBootstrapGroup = "system:bootstrappers:drover:default-node-token"

	aggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	aggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	aggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"

	legacyGroup         = ""
	appsGroup           = "apps"
	authenticationGroup = "authentication.k8s.io"
	authorizationGroup  = "authorization.k8s.io"
	autoscalingGroup    = "autoscaling"
	batchGroup          = "batch"
	certificatesGroup   = "certificates.k8s.io"
	coordinationGroup   = "coordination.k8s.io"
	discoveryGroup      = "discovery.k8s.io"
	eventsGroup         = "events.k8s.io"
	networkingGroup     = "networking.k8s.io"
	nodeGroup           = "node.k8s.io"
	policyGroup         = "policy"
	rbacGroup           = rbacv1.GroupName
	storageGroup        = "storage.k8s.io"
)

func readWrite() []string {
	return []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
}
func read() []string  { return []string{"get", "list", "watch"} }
func write() []string { return []string{"create", "update", "patch", "delete", "deletecollection"} }

// rule builds a PolicyRule as Kubernetes' rbacv1helpers.NewRule(...).Groups(...).Resources(...).
type rule rbacv1.PolicyRule

func newRule(verbs ...string) *rule           { return &rule{Verbs: verbs} }
func (r *rule) groups(g ...string) *rule      { r.APIGroups = append(r.APIGroups, g...); return r }
func (r *rule) resources(res ...string) *rule { r.Resources = append(r.Resources, res...); return r }
func (r *rule) names(n ...string) *rule       { r.ResourceNames = append(r.ResourceNames, n...); return r }
func (r *rule) urls(u ...string) *rule        { r.NonResourceURLs = append(r.NonResourceURLs, u...); return r }
func (r *rule) rule() rbacv1.PolicyRule       { return rbacv1.PolicyRule(*r) }
func rules(rs ...*rule) (out []rbacv1.PolicyRule) {
	for _, r := range rs {
		out = append(out, r.rule())
	}
	return out
}

func eventsRule() *rule {
	return newRule("create", "update", "patch").groups(legacyGroup, eventsGroup).resources("events")
}

func defaultMeta(name string, labels map[string]string) metav1.ObjectMeta {
	l := map[string]string{BootstrappingLabel: "rbac-defaults"}
	for k, v := range labels {
		l[k] = v
	}
	return metav1.ObjectMeta{Name: name, Labels: l, Annotations: map[string]string{AutoUpdateAnnotation: "true"}}
}

func aggregation(label string) *rbacv1.AggregationRule {
	return &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{label: "true"}}}}
}

// ClusterRoles are the default ClusterRoles.
func ClusterRoles() []rbacv1.ClusterRole {
	cr := func(name string, labels map[string]string, rs ...*rule) rbacv1.ClusterRole {
		return rbacv1.ClusterRole{ObjectMeta: defaultMeta(name, labels), Rules: rules(rs...)}
	}
	return []rbacv1.ClusterRole{
		// A "root" role which can do absolutely anything.
		cr("cluster-admin", nil,
			newRule("*").groups("*").resources("*"),
			newRule("*").urls("*")),
		// Just enough to discover API versions for negotiation.
		cr("system:discovery", nil,
			newRule("get").urls("/healthz", "/livez", "/readyz", "/version", "/version/",
				"/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*")),
		// What monitoring scrapes.
		cr("system:monitoring", nil,
			newRule("get").urls("/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*", "/metrics", "/metrics/slis")),
		// What a user may learn about itself.
		cr("system:basic-user", nil,
			newRule("create").groups(authorizationGroup).resources("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			newRule("create").groups(authenticationGroup).resources("selfsubjectreviews")),
		// Public information about the cluster.
		cr("system:public-info-viewer", nil,
			newRule("get").urls("/healthz", "/livez", "/readyz", "/version", "/version/")),
		// A namespace administrator: edit plus the power to grant permissions.
		{ObjectMeta: defaultMeta("admin", nil), AggregationRule: aggregation(aggregateToAdmin)},
		// Every user-level action in a namespace, no RBAC and no quota changes.
		{ObjectMeta: defaultMeta("edit", map[string]string{aggregateToAdmin: "true"}), AggregationRule: aggregation(aggregateToEdit)},
		// Read-only access to the non-escalating resources of a namespace.
		{ObjectMeta: defaultMeta("view", map[string]string{aggregateToEdit: "true"}), AggregationRule: aggregation(aggregateToView)},
		cr("system:aggregate-to-admin", map[string]string{aggregateToAdmin: "true"},
			newRule("create").groups(authorizationGroup).resources("localsubjectaccessreviews"),
			newRule(readWrite()...).groups(rbacGroup).resources("roles", "rolebindings")),
		cr("system:aggregate-to-edit", map[string]string{aggregateToEdit: "true"},
			// Read access to secrets and the streaming subresources: things view does not get.
			newRule(read()...).groups(legacyGroup).resources("pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"),
			newRule("impersonate").groups(legacyGroup).resources("serviceaccounts"),
			newRule(write()...).groups(legacyGroup).resources("pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
			newRule("create").groups(legacyGroup).resources("pods/eviction"),
			newRule(write()...).groups(legacyGroup).resources("replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
				"services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"),
			newRule("create").groups(legacyGroup).resources("serviceaccounts/token"),
			newRule(write()...).groups(appsGroup).resources("statefulsets", "statefulsets/scale", "daemonsets",
				"deployments", "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale"),
			newRule(write()...).groups(autoscalingGroup).resources("horizontalpodautoscalers"),
			newRule(write()...).groups(batchGroup).resources("jobs", "cronjobs"),
			newRule(write()...).groups(policyGroup).resources("poddisruptionbudgets"),
			newRule(write()...).groups(networkingGroup).resources("ingresses")),
		cr("system:aggregate-to-view", map[string]string{aggregateToView: "true"},
			newRule(read()...).groups(legacyGroup).resources("pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
				"services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"),
			newRule(read()...).groups(legacyGroup).resources("limitranges", "resourcequotas", "bindings", "events",
				"pods/status", "resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log"),
			// Reading namespaces at the namespace scope means reading this namespace.
			newRule(read()...).groups(legacyGroup).resources("namespaces"),
			newRule(read()...).groups(discoveryGroup).resources("endpointslices"),
			newRule(read()...).groups(appsGroup).resources("controllerrevisions",
				"statefulsets", "statefulsets/scale", "statefulsets/status",
				"daemonsets", "daemonsets/status",
				"deployments", "deployments/scale", "deployments/status",
				"replicasets", "replicasets/scale", "replicasets/status"),
			newRule(read()...).groups(autoscalingGroup).resources("horizontalpodautoscalers", "horizontalpodautoscalers/status"),
			newRule(read()...).groups(batchGroup).resources("jobs", "cronjobs", "cronjobs/status", "jobs/status"),
			newRule(read()...).groups(policyGroup).resources("poddisruptionbudgets", "poddisruptionbudgets/status"),
			newRule(read()...).groups(networkingGroup).resources("ingresses", "ingresses/status")),
		// Delegated authentication and authorization (TokenReview, SubjectAccessReview).
		cr("system:auth-delegator", nil,
			newRule("create").groups(authenticationGroup).resources("tokenreviews"),
			newRule("create").groups(authorizationGroup).resources("subjectaccessreviews")),
		// What a node agent (kubelet) needs; the Node authorizer narrows it to its own objects.
		cr("system:node", nil,
			newRule("create").groups(authenticationGroup).resources("tokenreviews"),
			newRule("create").groups(authorizationGroup).resources("subjectaccessreviews", "localsubjectaccessreviews"),
			newRule(read()...).groups(legacyGroup).resources("services"),
			newRule("create", "get", "list", "watch").groups(legacyGroup).resources("nodes"),
			newRule("update", "patch").groups(legacyGroup).resources("nodes/status"),
			newRule("update", "patch").groups(legacyGroup).resources("nodes"),
			newRule("create", "update", "patch").groups(legacyGroup).resources("events"),
			newRule(read()...).groups(legacyGroup).resources("pods"),
			newRule("create", "delete").groups(legacyGroup).resources("pods"),
			newRule("update", "patch").groups(legacyGroup).resources("pods/status"),
			newRule("create").groups(legacyGroup).resources("pods/eviction"),
			newRule(read()...).groups(legacyGroup).resources("secrets", "configmaps"),
			newRule("get").groups(legacyGroup).resources("persistentvolumeclaims", "persistentvolumes"),
			newRule("get").groups(legacyGroup).resources("endpoints"),
			newRule("create", "get", "list", "watch").groups(certificatesGroup).resources("certificatesigningrequests"),
			newRule("get", "create", "update", "patch", "delete").groups(coordinationGroup).resources("leases"),
			newRule("create").groups(legacyGroup).resources("serviceaccounts/token"),
			newRule("get", "update", "patch").groups(legacyGroup).resources("persistentvolumeclaims/status"),
			// CSI: what a kubelet reads and writes as drivers register (drover's register none).
			newRule("get").groups(storageGroup).resources("volumeattachments"),
			newRule("get", "watch", "list").groups(storageGroup).resources("csidrivers"),
			newRule("get", "create", "update", "patch", "delete").groups(storageGroup).resources("csinodes"),
			newRule(read()...).groups(nodeGroup).resources("runtimeclasses")),
		// A node proxy (services and endpoints to route).
		cr("system:node-proxier", nil,
			newRule("list", "watch").groups(legacyGroup).resources("services", "endpoints"),
			newRule(read()...).groups(legacyGroup).resources("nodes"),
			eventsRule(),
			newRule("list", "watch").groups(discoveryGroup).resources("endpointslices")),
		// Joining with a bootstrap token: request a client certificate.
		cr("system:node-bootstrapper", nil,
			newRule("create", "get", "list", "watch").groups(certificatesGroup).resources("certificatesigningrequests")),
		cr("system:certificates.k8s.io:certificatesigningrequests:nodeclient", nil,
			newRule("create").groups(certificatesGroup).resources("certificatesigningrequests/nodeclient")),
		cr("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", nil,
			newRule("create").groups(certificatesGroup).resources("certificatesigningrequests/selfnodeclient")),
		cr("system:certificates.k8s.io:kube-apiserver-client-approver", nil,
			newRule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/kube-apiserver-client")),
		cr("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver", nil,
			newRule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/kube-apiserver-client-kubelet")),
		cr("system:certificates.k8s.io:kubelet-serving-approver", nil,
			newRule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/kubelet-serving")),
		cr("system:certificates.k8s.io:legacy-unknown-approver", nil,
			newRule("approve").groups(certificatesGroup).resources("signers").names("kubernetes.io/legacy-unknown")),
		// The API server's own client of the node agents.
		cr("system:kubelet-api-admin", nil,
			newRule(read()...).groups(legacyGroup).resources("nodes"),
			newRule("proxy").groups(legacyGroup).resources("nodes"),
			newRule("*").groups(legacyGroup).resources("nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log")),
		// The controller manager's own identity (its controllers' powers come on top).
		cr("system:kube-controller-manager", nil,
			eventsRule(),
			newRule("create").groups(coordinationGroup).resources("leases"),
			newRule("get", "update").groups(coordinationGroup).resources("leases").names("kube-controller-manager"),
			newRule("create").groups(legacyGroup).resources("secrets", "serviceaccounts"),
			newRule("delete").groups(legacyGroup).resources("secrets"),
			newRule("get").groups(legacyGroup).resources("namespaces", "configmaps", "secrets", "serviceaccounts"),
			newRule("update").groups(legacyGroup).resources("secrets", "serviceaccounts"),
			newRule("create").groups(authenticationGroup).resources("tokenreviews"),
			newRule("create").groups(authorizationGroup).resources("subjectaccessreviews"),
			newRule("list", "watch").groups("*").resources("*"),
			newRule("create").groups(legacyGroup).resources("serviceaccounts/token")),
		// The Jenkins cloud provider, run by the controller manager under its own identity.
		cr(JenkinsProvider, nil,
			eventsRule(),
			newRule(readWrite()...).groups(legacyGroup).resources("pods", "secrets", "configmaps", "replicationcontrollers", "persistentvolumeclaims"),
			newRule("get", "list", "watch", "create").groups(legacyGroup).resources("persistentvolumes"),
			newRule(read()...).groups(legacyGroup).resources("services", "endpoints", "nodes")),
		// drover's controller manager runs every controller (the Jenkins cloud provider has
		// its own identity, JenkinsProvider) as one identity, user system:kube-controller-manager: the union of what Kubernetes'
		// per-controller roles (system:controller:*) grant the controllers drover has.
		cr(ControllerManagerRole, nil,
			newRule(readWrite()...).groups(legacyGroup).resources("pods", "replicationcontrollers", "services", "endpoints",
				"persistentvolumeclaims", "persistentvolumes", "configmaps", "secrets", "serviceaccounts", "nodes"),
			newRule("update", "patch").groups(legacyGroup).resources("pods/status", "replicationcontrollers/status", "services/status",
				"persistentvolumeclaims/status", "persistentvolumes/status", "nodes/status", "namespaces/status", "namespaces/finalize"),
			newRule(read()...).groups(legacyGroup).resources("namespaces", "pods/log", "events", "resourcequotas", "limitranges"),
			newRule("update", "patch").groups(legacyGroup).resources("resourcequotas/status"),
			newRule("create").groups(legacyGroup).resources("pods/binding", "bindings", "pods/eviction", "serviceaccounts/token"),
			newRule("create", "update", "patch").groups(legacyGroup).resources("events"),
			newRule("get", "update", "patch").groups("*").resources("*/scale"),
			newRule(read()...).groups(legacyGroup).resources("podtemplates"),
			newRule(readWrite()...).groups(discoveryGroup).resources("endpointslices"),
			newRule(read()...).groups(nodeGroup).resources("runtimeclasses"),
			// Kubernetes' persistent-volume-binder reads the claims' storage classes.
			newRule("get", "list", "watch").groups(storageGroup).resources("storageclasses"),
			newRule(readWrite()...).groups(appsGroup).resources("deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"),
			newRule("update", "patch").groups(appsGroup).resources("deployments/status", "replicasets/status", "statefulsets/status", "daemonsets/status",
				"deployments/finalizers", "replicasets/finalizers", "statefulsets/finalizers", "daemonsets/finalizers"),
			newRule(readWrite()...).groups(batchGroup).resources("jobs", "cronjobs"),
			newRule("update", "patch").groups(batchGroup).resources("jobs/status", "cronjobs/status", "jobs/finalizers", "cronjobs/finalizers"),
			newRule(read()...).groups(autoscalingGroup).resources("horizontalpodautoscalers"),
			newRule("update", "patch").groups(autoscalingGroup).resources("horizontalpodautoscalers/status"),
			newRule(read()...).groups(policyGroup).resources("poddisruptionbudgets"),
			newRule("update", "patch").groups(policyGroup).resources("poddisruptionbudgets/status"),
			newRule(readWrite()...).groups(coordinationGroup).resources("leases"),
			newRule(read()...).groups(certificatesGroup).resources("certificatesigningrequests"),
			newRule("update").groups(certificatesGroup).resources("certificatesigningrequests/approval", "certificatesigningrequests/status"),
			newRule("approve", "sign").groups(certificatesGroup).resources("signers").names("kubernetes.io/kubelet-serving", "kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kube-apiserver-client"),
			// The aggregation controller writes rules it need not hold (Kubernetes'
			// clusterrole-aggregation-controller role has escalate).
			newRule("escalate", "get", "list", "watch", "update", "patch").groups(rbacGroup).resources("clusterroles"),
			newRule("get", "list").groups("metrics.k8s.io").resources("pods", "nodes"),
			newRule("create").groups(authenticationGroup).resources("tokenreviews"),
			newRule("create").groups(authorizationGroup).resources("subjectaccessreviews")),
		// The scheduler.
		cr("system:kube-scheduler", nil,
			eventsRule(),
			newRule("create").groups(coordinationGroup).resources("leases"),
			newRule("get", "update").groups(coordinationGroup).resources("leases").names("kube-scheduler"),
			newRule(read()...).groups(legacyGroup).resources("nodes"),
			newRule("get", "list", "watch", "delete").groups(legacyGroup).resources("pods"),
			newRule("create").groups(legacyGroup).resources("bindings", "pods/binding"),
			newRule("patch", "update").groups(legacyGroup).resources("pods/status"),
			newRule(read()...).groups(legacyGroup).resources("replicationcontrollers", "services"),
			newRule(read()...).groups(appsGroup).resources("replicasets", "statefulsets"),
			newRule(read()...).groups(policyGroup).resources("poddisruptionbudgets"),
			newRule(read()...).groups(legacyGroup).resources("persistentvolumeclaims", "persistentvolumes"),
			newRule("create").groups(authenticationGroup).resources("tokenreviews"),
			newRule("create").groups(authorizationGroup).resources("subjectaccessreviews"),
			// Volume limits and CSI storage capacity (drover's scheduler reads none yet).
			newRule(read()...).groups(storageGroup).resources("csinodes"),
			newRule("get", "list", "watch").groups(storageGroup).resources("volumeattachments"),
			newRule(read()...).groups(legacyGroup).resources("namespaces"),
			newRule(read()...).groups(storageGroup).resources("csidrivers"),
			newRule(read()...).groups(storageGroup).resources("csistoragecapacities")),
	}
}

// ClusterRoleBindings are the default ClusterRoleBindings.
func ClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	crb := func(role string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
		return rbacv1.ClusterRoleBinding{ObjectMeta: defaultMeta(role, nil),
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "ClusterRole", Name: role},
			Subjects: subjects}
	}
	namedCRB := func(name, role string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
		b := crb(role, subjects...)
		b.Name = name
		return b
	}
	group := func(n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacGroup, Name: n}
	}
	usr := func(n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacGroup, Name: n}
	}
	return []rbacv1.ClusterRoleBinding{
		crb("cluster-admin", group(user.SystemPrivilegedGroup)),
		crb("system:monitoring", group(user.MonitoringGroup)),
		crb("system:discovery", group(user.AllAuthenticated)),
		crb("system:basic-user", group(user.AllAuthenticated)),
		crb("system:public-info-viewer", group(user.AllAuthenticated), group(user.AllUnauthenticated)),
		crb("system:node-proxier", usr(user.KubeProxy)),
		crb("system:kube-controller-manager", usr(user.KubeControllerManager)),
		crb("system:kube-scheduler", usr(user.KubeScheduler)),
		crb(ControllerManagerRole, usr(user.KubeControllerManager)),
		crb(JenkinsProvider, usr(JenkinsProvider)),
		// Bound to no one: the Node authorizer grants nodes their powers.
		crb("system:node"),
		// What kubeadm binds for joining nodes: a bootstrap token (drover token create) may
		// request a node client certificate, and a node may renew its own.
		namedCRB("drover:node-bootstrapper", "system:node-bootstrapper", group(NodeBootstrapGroup)),
		namedCRB("drover:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", group(NodeBootstrapGroup)),
		namedCRB("drover:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", group(user.NodesGroup)),
	}
}

// ExtensionAuthReaderRole is the Role in kube-system that lets an extension API server read
// the ConfigMap extension-apiserver-authentication (its client and front-proxy CAs).
const ExtensionAuthReaderRole = "extension-apiserver-authentication-reader"

// NamespaceRoles are the default Roles, each in its namespace (Kubernetes'
// NamespaceRoles, trimmed to what drover's components and extension API servers need).
func NamespaceRoles() []rbacv1.Role {
	role := func(ns, name string, rs ...*rule) rbacv1.Role {
		m := defaultMeta(name, nil)
		m.Namespace = ns
		return rbacv1.Role{ObjectMeta: m, Rules: rules(rs...)}
	}
	return []rbacv1.Role{
		role(metav1.NamespaceSystem, ExtensionAuthReaderRole,
			newRule(read()...).groups(legacyGroup).resources("configmaps").names("extension-apiserver-authentication")),
	}
}

// NamespaceRoleBindings are the default RoleBindings (Kubernetes' NamespaceRoleBindings,
// trimmed as NamespaceRoles).
func NamespaceRoleBindings() []rbacv1.RoleBinding {
	usr := func(n string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacGroup, Name: n}
	}
	m := defaultMeta("system::"+ExtensionAuthReaderRole, nil)
	m.Namespace = metav1.NamespaceSystem
	return []rbacv1.RoleBinding{{ObjectMeta: m,
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacGroup, Kind: "Role", Name: ExtensionAuthReaderRole},
		Subjects: []rbacv1.Subject{usr(user.KubeControllerManager), usr(user.KubeScheduler)}}}
}
