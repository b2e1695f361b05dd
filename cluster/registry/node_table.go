package registry

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// nodeTable prints nodes as kubectl v1.32 does: NAME STATUS ROLES AGE VERSION, and
// INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME with -o wide.
func nodeTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Status", "string", "The status of the node", 0),
			column("Roles", "string", "The roles of the node", 0),
			ageColumn,
			column("Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"], 0),
			column("Internal-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"], 1),
			column("External-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"], 1),
			column("OS-Image", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"], 1),
			column("Kernel-Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"], 1),
			column("Container-Runtime", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"], 1),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			n, ok := obj.(*corev1.Node)
			if !ok {
				return nil, fmt.Errorf("node table: unexpected object %T", obj)
			}
			info := n.Status.NodeInfo
			return []interface{}{n.Name, nodeStatus(n), stringOrNone(strings.Join(nodeRoles(n), ",")),
				translateTimestampSince(n.CreationTimestamp), info.KubeletVersion,
				nodeAddress(n, corev1.NodeInternalIP), nodeAddress(n, corev1.NodeExternalIP),
				nodeOrUnknown(info.OSImage), nodeOrUnknown(info.KernelVersion), nodeOrUnknown(info.ContainerRuntimeVersion)}, nil
		},
	}
}

// nodeStatus renders Ready / NotReady / Unknown, plus ",SchedulingDisabled" when cordoned.
func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			status = "NotReady"
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

// nodeRoles returns the sorted roles from node-role.kubernetes.io/<role> and
// kubernetes.io/role labels.
func nodeRoles(n *corev1.Node) []string {
	set := map[string]bool{}
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, "node-role.kubernetes.io/"):
			if role := strings.TrimPrefix(k, "node-role.kubernetes.io/"); role != "" {
				set[role] = true
			}
		case k == "kubernetes.io/role" && v != "":
			set[v] = true
		}
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// nodeAddress returns the node's first address of type t, or "<none>".
func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

// nodeOrUnknown returns s, or "<unknown>" when empty.
func nodeOrUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}
