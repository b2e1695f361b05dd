package endpointslice

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/drover-ci/drover/cluster/controller"
)

// Slice is the content of one wanted EndpointSlice.
type Slice struct {
	Ports     []discoveryv1.EndpointPort
	Endpoints []discoveryv1.Endpoint
}

// Desired computes the slices a Service wants: its pods' endpoints grouped by their resolved
// port lists (groups in order of their ports, endpoints by address), cut into slices of at
// most max endpoints. Pods without an IPv4 address or finished are left out; terminating pods
// stay, with ready false (unless the Service publishes not-ready addresses). A Service with no
// endpoints at all keeps one empty placeholder slice, as Kubernetes does.
func Desired(svc *corev1.Service, pods []*corev1.Pod, max int) []Slice {
	groups := map[string]*Slice{}
	for _, pod := range pods {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		ip, err := netip.ParseAddr(pod.Status.PodIP)
		if err != nil || !ip.Is4() {
			continue
		}
		ports := podPorts(svc, pod)
		k := portsKey(ports)
		g := groups[k]
		if g == nil {
			g = &Slice{Ports: ports}
			groups[k] = g
		}
		g.Endpoints = append(g.Endpoints, podEndpoint(svc, pod))
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Slice
	for _, k := range keys {
		g := groups[k]
		sort.Slice(g.Endpoints, func(i, j int) bool { return g.Endpoints[i].Addresses[0] < g.Endpoints[j].Addresses[0] })
		for start := 0; start < len(g.Endpoints); start += max {
			end := min(start+max, len(g.Endpoints))
			out = append(out, Slice{Ports: g.Ports, Endpoints: g.Endpoints[start:end:end]})
		}
	}
	if len(out) == 0 {
		out = []Slice{{}}
	}
	return out
}

// podEndpoint is Kubernetes' podToEndpoint.
func podEndpoint(svc *corev1.Service, pod *corev1.Pod) discoveryv1.Endpoint {
	serving := svc.Spec.PublishNotReadyAddresses || controller.PodReady(pod)
	terminating := pod.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  []string{pod.Status.PodIP},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		n := pod.Spec.NodeName
		ep.NodeName = &n
	}
	// Kubernetes' ShouldSetHostname.
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		h := pod.Spec.Hostname
		ep.Hostname = &h
	}
	return ep
}

// podPorts resolves the Service's ports for one pod (a port whose named targetPort the pod
// lacks is left out).
func podPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for _, sp := range svc.Spec.Ports {
		port, ok := controller.FindServicePort(pod, sp)
		if !ok {
			continue
		}
		name, proto, num := sp.Name, sp.Protocol, port
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		out = append(out, discoveryv1.EndpointPort{Name: &name, Port: &num, Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	return out
}

// portsKey identifies a port list (names, protocols and numbers, in order).
func portsKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		var name, proto, num string
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = string(*p.Protocol)
		}
		if p.Port != nil {
			num = strconv.Itoa(int(*p.Port))
		}
		parts[i] = name + "/" + proto + "/" + num
	}
	return strings.Join(parts, ",")
}
