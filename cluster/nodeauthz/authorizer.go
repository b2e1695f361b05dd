package nodeauthz

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Authorizer is Kubernetes' Node authorizer over a Graph. It has an opinion only on node
// users: what it allows, it allows; for the rest it has none (the next authorizer, RBAC,
// decides, and Kubernetes' default policy grants nodes nothing more).
type Authorizer struct {
	graph  *Graph
	synced func() bool
}

// NewAuthorizer authorizes with g; synced (nil: always) says whether g has caught up with the
// store: before, reads through the graph are not allowed (the node retries).
func NewAuthorizer(g *Graph, synced func() bool) *Authorizer {
	return &Authorizer{graph: g, synced: synced}
}

// rule is a policy rule of Kubernetes' system:node role (bootstrappolicy.NodeRules).
type rule struct {
	verbs     []string
	group     string
	resources []string
}

var readVerbs = []string{"get", "list", "watch"}

// nodeRules are what every node may do beside the graph's reads; NodeRestriction narrows the
// writes to the node's own objects. drover's node agent also runs the service proxy and DNS,
// which watch services and endpoints.
var nodeRules = []rule{
	{[]string{"create"}, "authentication.k8s.io", []string{"tokenreviews", "selfsubjectreviews"}},
	{[]string{"create"}, "authorization.k8s.io", []string{"subjectaccessreviews", "localsubjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews"}},
	{readVerbs, "", []string{"services", "endpoints"}},
	{readVerbs, "discovery.k8s.io", []string{"endpointslices"}},
	{[]string{"create", "get", "list", "watch", "update", "patch", "delete"}, "", []string{"nodes"}},
	{[]string{"update", "patch"}, "", []string{"nodes/status"}},
	{[]string{"create", "update", "patch"}, "", []string{"events"}},
	{[]string{"create", "update", "patch"}, "events.k8s.io", []string{"events"}},
	{readVerbs, "", []string{"pods"}},
	{[]string{"create", "delete"}, "", []string{"pods"}},
	{[]string{"update", "patch"}, "", []string{"pods/status"}},
	{[]string{"get", "create", "update", "patch", "delete"}, "coordination.k8s.io", []string{"leases"}},
	{[]string{"create", "get", "list", "watch"}, "certificates.k8s.io", []string{"certificatesigningrequests"}},
	{[]string{"create"}, "certificates.k8s.io", []string{"certificatesigningrequests/selfnodeclient"}},
	{readVerbs, "node.k8s.io", []string{"runtimeclasses"}},
	{readVerbs, "storage.k8s.io", []string{"csidrivers"}},
}

// Authorize implements authorizer.Authorizer.
func (a *Authorizer) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	node := NodeName(attrs.GetUser())
	if node == "" || !attrs.IsResourceRequest() {
		return authorizer.DecisionNoOpinion, "", nil
	}
	group, resource, sub := attrs.GetAPIGroup(), attrs.GetResource(), attrs.GetSubresource()
	if group == "" {
		switch {
		case resource == "secrets" && sub == "":
			return a.read(node, attrs, secretKind)
		case resource == "configmaps" && sub == "":
			return a.read(node, attrs, configMapKind)
		case resource == "persistentvolumeclaims" && sub == "":
			return a.read(node, attrs, pvcKind)
		case resource == "persistentvolumes" && sub == "":
			if !a.readVerb(attrs) {
				return authorizer.DecisionNoOpinion, "can only read persistentvolumes", nil
			}
			if !a.ready() {
				return authorizer.DecisionNoOpinion, "node authorizer not ready", nil
			}
			if a.graph.relatedPV(node, attrs.GetName()) {
				return authorizer.DecisionAllow, "", nil
			}
			return authorizer.DecisionNoOpinion, noRelationship(node), nil
		case resource == "serviceaccounts" && sub == "token":
			if attrs.GetVerb() != "create" {
				return authorizer.DecisionNoOpinion, "can only create tokens for individual service accounts", nil
			}
			if !a.ready() {
				return authorizer.DecisionNoOpinion, "node authorizer not ready", nil
			}
			if a.graph.related(node, ref{serviceAccountKind, attrs.GetNamespace(), attrs.GetName()}) {
				return authorizer.DecisionAllow, "", nil
			}
			return authorizer.DecisionNoOpinion, noRelationship(node), nil
		}
	}
	if group == "storage.k8s.io" && resource == "csinodes" {
		return csiNode(node, attrs)
	}
	res := resource
	if sub != "" {
		res += "/" + sub
	}
	for _, r := range nodeRules {
		if r.group == group && slices.Contains(r.resources, res) && slices.Contains(r.verbs, attrs.GetVerb()) {
			return authorizer.DecisionAllow, "", nil
		}
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// csiNode is Kubernetes' authorizeCSINode: a node may get, create, update, patch and delete
// its own CSINode (a create's name is the body's: NodeRestriction checks it).
func csiNode(node string, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	switch attrs.GetVerb() {
	case "get", "create", "update", "patch", "delete":
	default:
		return authorizer.DecisionNoOpinion, "can only get, create, update, patch, or delete a CSINode", nil
	}
	if attrs.GetSubresource() != "" {
		return authorizer.DecisionNoOpinion, "cannot authorize CSINode subresources", nil
	}
	if attrs.GetVerb() != "create" && attrs.GetName() != node {
		return authorizer.DecisionNoOpinion, "can only access CSINode with the same name as the requesting node", nil
	}
	return authorizer.DecisionAllow, "", nil
}

// read allows get (and list/watch of one object by name, as a kubelet watches a Secret) of an
// object a pod bound to node uses.
func (a *Authorizer) read(node string, attrs authorizer.Attributes, k kind) (authorizer.Decision, string, error) {
	if !a.readVerb(attrs) {
		return authorizer.DecisionNoOpinion, fmt.Sprintf("can only read individual %s", attrs.GetResource()), nil
	}
	if !a.ready() {
		return authorizer.DecisionNoOpinion, "node authorizer not ready", nil
	}
	if a.graph.related(node, ref{k, attrs.GetNamespace(), attrs.GetName()}) {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, noRelationship(node), nil
}

func (a *Authorizer) readVerb(attrs authorizer.Attributes) bool {
	return slices.Contains(readVerbs, attrs.GetVerb()) && attrs.GetName() != ""
}

func (a *Authorizer) ready() bool { return a.synced == nil || a.synced() }

// noRelationship is Kubernetes' reason for a read outside the node's pods.
func noRelationship(node string) string {
	return fmt.Sprintf("no relationship found between node '%s' and this object", node)
}
