package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNodeDefault(t *testing.T) {
	n := &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24"},
		Status: corev1.NodeStatus{Capacity: corev1.ResourceList{"cpu": resource.MustParse("2")}}}
	nodeDefault(n)
	if diff := cmp.Diff([]string{"10.244.0.0/24"}, n.Spec.PodCIDRs); diff != "" {
		t.Errorf("podCIDRs (-want +got):\n%s", diff)
	}
	if q := n.Status.Allocatable["cpu"]; q.String() != "2" {
		t.Errorf("allocatable cpu = %s", q.String())
	}
}

func TestNodeValidate(t *testing.T) {
	tests := []struct {
		name string
		spec corev1.NodeSpec
		want []string
	}{
		{"ok", corev1.NodeSpec{PodCIDRs: []string{"10.244.0.0/24", "fd00::/64"}}, nil},
		{"bad cidr", corev1.NodeSpec{PodCIDRs: []string{"10.244.0.0"}},
			[]string{`spec.podCIDRs[0]: Invalid value: "10.244.0.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`}},
		{"two v4", corev1.NodeSpec{PodCIDRs: []string{"10.0.0.0/24", "10.0.1.0/24"}},
			[]string{`spec.podCIDRs: Invalid value: []string{"10.0.0.0/24", "10.0.1.0/24"}: may specify no more than one CIDR for each IP family`}},
		{"taint", corev1.NodeSpec{Taints: []corev1.Taint{{Key: "dedicated"}, {Key: "x", Effect: "Never"}}},
			[]string{"spec.taints[0].effect: Required value",
				`spec.taints[1].effect: Unsupported value: "Never": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(nodeValidate(&corev1.Node{Spec: tt.spec}))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeValidateUpdate(t *testing.T) {
	old := &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.0.0/24"}, ProviderID: "drover://a"}}
	tests := []struct {
		name string
		old  *corev1.Node
		n    *corev1.Node
		want []string
	}{
		{"cordon", old, &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.0.0/24"}, ProviderID: "drover://a", Unschedulable: true}}, nil},
		{"assign cidr", &corev1.Node{}, &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.1.0/24"}}}, nil},
		{"change cidr and provider", old, &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.1.0/24"}, ProviderID: "drover://b"}},
			[]string{`spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid`,
				`spec.providerID: Forbidden: node updates may not change providerID except from "" to valid`}},
		{"duplicate address", &corev1.Node{}, &corev1.Node{Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: "InternalIP", Address: "10.0.0.1"}, {Type: "InternalIP", Address: "10.0.0.1"}}}},
			[]string{`status.addresses[1]: Duplicate value: v1.NodeAddress{Type:"InternalIP", Address:"10.0.0.1"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(nodeValidateUpdate(tt.n, tt.old))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeFieldsAndTable(t *testing.T) {
	ready := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "host-1", Labels: map[string]string{
			"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "agent"}},
		Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "host-1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.5"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.32.3-drover", OSImage: "Debian GNU/Linux 12", ContainerRuntimeVersion: "docker://20.10.24"},
		},
	}
	r, _ := lookup(corev1.SchemeGroupVersion.WithResource("nodes"))
	if got := r.Fields(ready)["spec.unschedulable"]; got != "true" {
		t.Errorf("spec.unschedulable = %q", got)
	}
	tests := []struct {
		name string
		node *corev1.Node
		want []interface{}
	}{
		{"ready cordoned", ready, []interface{}{"host-1", "Ready,SchedulingDisabled", "agent,control-plane", "<unknown>",
			"v1.32.3-drover", "192.168.1.5", "<none>", "Debian GNU/Linux 12", "<unknown>", "docker://20.10.24"}},
		{"not ready", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "h2"}, Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}}},
			[]interface{}{"h2", "NotReady", "<none>", "<unknown>", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
		{"no condition", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "h3"}},
			[]interface{}{"h3", "Unknown", "<none>", "<unknown>", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nodeTable().Row(tt.node)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}
