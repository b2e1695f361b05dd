package endpoints

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/controller"
)

var (
	createOpts = metav1.CreateOptions{}
	updateOpts = metav1.UpdateOptions{}
	deleteOpts = metav1.DeleteOptions{}
)

// Subsets computes a service's endpoint subsets from its pods, grouped by identical port lists
// (as Kubernetes' RepackSubsets does), addresses sorted by IP. Pods without an IP, finished or
// being deleted are left out; a pod that is not Ready goes to notReadyAddresses unless the
// service publishes not-ready addresses. A pod lacking a named targetPort is left out of that
// port's subset.
func Subsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	type group struct {
		ports    []corev1.EndpointPort
		ready    []corev1.EndpointAddress
		notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	var order []string
	for _, pod := range pods {
		if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil ||
			pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		ports := podPorts(svc, pod)
		if len(ports) == 0 && len(svc.Spec.Ports) > 0 {
			continue
		}
		key := portsKey(ports)
		g := groups[key]
		if g == nil {
			g = &group{ports: ports}
			groups[key] = g
			order = append(order, key)
		}
		addr := corev1.EndpointAddress{IP: pod.Status.PodIP, TargetRef: &corev1.ObjectReference{
			Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}}
		if pod.Spec.NodeName != "" {
			n := pod.Spec.NodeName
			addr.NodeName = &n
		}
		// Kubernetes' ShouldSetHostname: any service the pod names as its subdomain (cluster
		// DNS serves the name for headless services only).
		if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
			addr.Hostname = pod.Spec.Hostname
		}
		if controller.PodReady(pod) || svc.Spec.PublishNotReadyAddresses {
			g.ready = append(g.ready, addr)
		} else {
			g.notReady = append(g.notReady, addr)
		}
	}
	sort.Strings(order)
	out := []corev1.EndpointSubset{}
	for _, key := range order {
		g := groups[key]
		sortAddrs(g.ready)
		sortAddrs(g.notReady)
		out = append(out, corev1.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.notReady, Ports: g.ports})
	}
	return out
}

// podPorts resolves the service's ports for one pod.
func podPorts(svc *corev1.Service, pod *corev1.Pod) []corev1.EndpointPort {
	var out []corev1.EndpointPort
	for _, sp := range svc.Spec.Ports {
		port, ok := controller.FindServicePort(pod, sp)
		if !ok {
			continue
		}
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		out = append(out, corev1.EndpointPort{Name: sp.Name, Port: port, Protocol: proto, AppProtocol: sp.AppProtocol})
	}
	return out
}

func portsKey(ports []corev1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = p.Name + "/" + string(p.Protocol) + "/" + strconv.Itoa(int(p.Port))
	}
	return strings.Join(parts, ",")
}

func sortAddrs(a []corev1.EndpointAddress) {
	sort.Slice(a, func(i, j int) bool { return a[i].IP < a[j].IP })
}

func equalSubsets(a, b []corev1.EndpointSubset) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return apiequality.Semantic.DeepEqual(a, b)
}

func equalLabels(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return apiequality.Semantic.DeepEqual(a, b)
}

func copyLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
