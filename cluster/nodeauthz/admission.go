package nodeauthz

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/drover-ci/drover/cluster/registry"
)

// Operations, as admission names them.
const (
	Create = "CREATE"
	Update = "UPDATE"
	Delete = "DELETE"
)

// Attributes are what NodeRestriction looks at: who, what operation on which resource, and the
// object (new, for create and update) and the stored one (old, for update and delete).
type Attributes struct {
	User        user.Info
	Operation   string
	Resource    schema.GroupResource
	Subresource string
	Namespace   string
	Name        string
	Object      runtime.Object
	OldObject   runtime.Object
}

// LabelNamespaceNodeRestriction is the label prefix only administrators may set on Nodes.
const LabelNamespaceNodeRestriction = "node-restriction.kubernetes.io/"

// mirrorPodAnnotation marks a static pod's mirror, the only pods Kubernetes lets a node create
// (drover has no static pods).
const mirrorPodAnnotation = "kubernetes.io/config.mirror"

// Admit is Kubernetes' NodeRestriction admission: a node may create no pods (only mirror
// pods, which drover does not have), delete and update the status of only the pods bound to
// it, create, modify and delete only its own Node (not the labels under
// node-restriction.kubernetes.io/, nor its taints once registered), its own Lease in
// kube-node-lease and its own CSINode, and request certificates only for itself. Requests of
// other users, and of resources it does not restrict, pass. The error is a 403 with
// Kubernetes' message.
func Admit(a Attributes) error {
	node := NodeName(a.User)
	if node == "" {
		return nil
	}
	switch a.Resource {
	case schema.GroupResource{Resource: "pods"}:
		return admitPod(node, a)
	case schema.GroupResource{Resource: "nodes"}:
		return admitNode(node, a)
	case schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}:
		if a.Namespace != corev1.NamespaceNodeLease {
			return forbidden(a, fmt.Errorf("can only access leases in the %q system namespace", corev1.NamespaceNodeLease))
		}
		name := a.Name
		if l, ok := a.Object.(*coordinationv1.Lease); ok && name == "" {
			name = l.Name
		}
		if name != node {
			return forbidden(a, fmt.Errorf("can only access node lease with the same name as the requesting node"))
		}
	case schema.GroupResource{Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}:
		return admitCSR(node, a)
	case schema.GroupResource{Group: "storage.k8s.io", Resource: "csinodes"}:
		// Kubernetes' admitCSINode: only its own.
		name := a.Name
		if c, ok := a.Object.(*storagev1.CSINode); ok && name == "" {
			name = c.Name
		}
		if name != node {
			return forbidden(a, fmt.Errorf("can only access CSINode with the same name as the requesting node"))
		}
	}
	return nil
}

func admitPod(node string, a Attributes) error {
	switch a.Subresource {
	case "":
		switch a.Operation {
		case Create:
			p, _ := a.Object.(*corev1.Pod)
			if p == nil || p.Annotations[mirrorPodAnnotation] == "" {
				return forbidden(a, fmt.Errorf("pod does not have %q annotation, node %q can only create mirror pods", mirrorPodAnnotation, node))
			}
			return forbidden(a, fmt.Errorf("node %q can only create mirror pods, and drover has no static pods", node))
		case Delete:
			if p, _ := a.OldObject.(*corev1.Pod); p == nil || p.Spec.NodeName != node {
				return forbidden(a, fmt.Errorf("node %q can only delete pods with spec.nodeName set to itself", node))
			}
			return nil
		default:
			return forbidden(a, fmt.Errorf("unexpected operation %q, node %q can only create and delete mirror pods", a.Operation, node))
		}
	case "status":
		if p, _ := a.OldObject.(*corev1.Pod); p == nil || p.Spec.NodeName != node {
			return forbidden(a, fmt.Errorf("node %q can only update pod status for pods with spec.nodeName set to itself", node))
		}
		return nil
	}
	return forbidden(a, fmt.Errorf("unexpected subresource %q, node %q can only update pod status", a.Subresource, node))
}

func admitNode(node string, a Attributes) error {
	name := a.Name
	if n, ok := a.Object.(*corev1.Node); ok && name == "" {
		name = n.Name
	}
	if name != node {
		if a.Operation == Delete {
			return forbidden(a, fmt.Errorf("node %q is not allowed to delete node %q", node, name))
		}
		return forbidden(a, fmt.Errorf("node %q is not allowed to modify node %q", node, name))
	}
	n, _ := a.Object.(*corev1.Node)
	if n == nil {
		return nil
	}
	switch a.Operation {
	case Create:
		if bad := restrictedLabels(n.Labels, nil); len(bad) > 0 {
			return forbidden(a, fmt.Errorf("node %q is not allowed to set the following labels: %s", node, strings.Join(bad, ", ")))
		}
	case Update:
		old, _ := a.OldObject.(*corev1.Node)
		if old == nil {
			return nil
		}
		if bad := restrictedLabels(n.Labels, old.Labels); len(bad) > 0 {
			return forbidden(a, fmt.Errorf("node %q is not allowed to modify labels: %s", node, strings.Join(bad, ", ")))
		}
		if a.Subresource == "" && !apiequality.Semantic.DeepEqual(n.Spec.Taints, old.Spec.Taints) {
			return forbidden(a, fmt.Errorf("node %q is not allowed to modify taints", node))
		}
	}
	return nil
}

// restrictedLabels are the labels under node-restriction.kubernetes.io/ that differ between
// labels and old (set, changed or removed), sorted.
func restrictedLabels(labels, old map[string]string) []string {
	var bad []string
	keys := slices.Collect(maps.Keys(labels))
	for k := range old {
		if _, ok := labels[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		v, had := old[k]
		nv, has := labels[k]
		if isRestricted(k) && (had != has || v != nv) {
			bad = append(bad, k)
		}
	}
	slices.Sort(bad)
	return bad
}

func isRestricted(key string) bool {
	prefix, _, ok := strings.Cut(key, "/")
	return ok && (prefix+"/" == LabelNamespaceNodeRestriction || strings.HasSuffix(prefix, "."+strings.TrimSuffix(LabelNamespaceNodeRestriction, "/")))
}

// admitCSR: a node may ask for node certificates only in its own name.
func admitCSR(node string, a Attributes) error {
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok || a.Operation != Create {
		return nil
	}
	switch csr.Spec.SignerName {
	case certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeletServingSignerName:
	default:
		return nil
	}
	req, err := registry.ParseCSR(csr.Spec.Request)
	if err != nil {
		return forbidden(a, fmt.Errorf("unable to parse csr: %w", err))
	}
	if want := "system:node:" + node; req.Subject.CommonName != want {
		return forbidden(a, fmt.Errorf("can only create a node CSR with CN=%s", want))
	}
	return nil
}

// CheckTokenRequest is NodeRestriction for a node's TokenRequest: the token must be bound to
// a pod (boundPodNode is that pod's spec.nodeName, "" when the request binds none) on the node.
func CheckTokenRequest(u user.Info, ns, serviceAccount string, boundToPod bool, boundPodNode string) error {
	node := NodeName(u)
	if node == "" {
		return nil
	}
	gr := schema.GroupResource{Resource: "serviceaccounts"}
	if !boundToPod {
		return apierrors.NewForbidden(gr, serviceAccount, fmt.Errorf("node requested token not bound to a pod"))
	}
	if boundPodNode != node {
		return apierrors.NewForbidden(gr, serviceAccount, fmt.Errorf("node requested token bound to a pod scheduled on a different node"))
	}
	return nil
}

func forbidden(a Attributes, err error) error {
	return apierrors.NewForbidden(a.Resource, a.Name, err)
}
