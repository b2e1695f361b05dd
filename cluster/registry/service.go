package registry

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// svcResource describes the services resource.
func svcResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "services", Kind: "Service", SingularName: "service",
		ShortNames: []string{"svc"}, Categories: []string{"all"}, Namespaced: true,
		Subresources: []string{"status", "proxy"}, HasStatus: true,
		New:              func() runtime.Object { return &corev1.Service{} },
		NewList:          func() runtime.Object { return &corev1.ServiceList{} },
		NameValidation:   apivalidation.NameIsDNS1035Label,
		Default:          func(obj runtime.Object) { svcDefault(obj.(*corev1.Service)) },
		PrepareForCreate: func(obj runtime.Object) { obj.(*corev1.Service).Status = corev1.ServiceStatus{} },
		PrepareForUpdate: func(obj, old runtime.Object) { svcPrepareForUpdate(obj.(*corev1.Service), old.(*corev1.Service)) },
		Validate:         func(obj runtime.Object) field.ErrorList { return svcValidate(obj.(*corev1.Service)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return svcValidateUpdate(obj.(*corev1.Service), old.(*corev1.Service))
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList { return svcValidateStatus(obj.(*corev1.Service)) },
		Table:                svcTable(),
	}
}

// svcExternallyAccessible reports whether the service is reachable from outside the cluster
// (NodePort, LoadBalancer, or ClusterIP with external IPs), as Kubernetes defines it.
func svcExternallyAccessible(svc *corev1.Service) bool {
	t := svc.Spec.Type
	return t == corev1.ServiceTypeLoadBalancer || t == corev1.ServiceTypeNodePort ||
		(t == corev1.ServiceTypeClusterIP && len(svc.Spec.ExternalIPs) > 0)
}

// svcNeedsNodePorts reports whether the service type carries node ports.
func svcNeedsNodePorts(t corev1.ServiceType) bool {
	return t == corev1.ServiceTypeNodePort || t == corev1.ServiceTypeLoadBalancer
}

// svcDefault applies the v1 defaults of Kubernetes' SetDefaults_Service, plus the IP family
// defaults the Kubernetes REST layer fills for single-stack IPv4 clusters.
func svcDefault(svc *corev1.Service) {
	spec := &svc.Spec
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity == corev1.ServiceAffinityNone {
		spec.SessionAffinityConfig = nil
	}
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		c := spec.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			timeout := corev1.DefaultClientIPServiceAffinitySeconds
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{
				ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}
		}
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range spec.Ports {
		sp := &spec.Ports[i]
		if sp.Protocol == "" {
			sp.Protocol = corev1.ProtocolTCP
		}
		if sp.TargetPort == intstr.FromInt32(0) || sp.TargetPort == intstr.FromString("") {
			sp.TargetPort = intstr.FromInt32(sp.Port)
		}
	}
	if svcExternallyAccessible(svc) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.InternalTrafficPolicy == nil && spec.Type != corev1.ServiceTypeExternalName {
		p := corev1.ServiceInternalTrafficPolicyCluster
		spec.InternalTrafficPolicy = &p
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer && spec.AllocateLoadBalancerNodePorts == nil {
		yes := true
		spec.AllocateLoadBalancerNodePorts = &yes
	}
	svcDefaultClusterIPs(svc)
}

// svcDefaultClusterIPs keeps clusterIP and clusterIPs[0] in step and defaults the IP family
// fields of services that use a cluster IP (drover clusters are single-stack IPv4).
func svcDefaultClusterIPs(svc *corev1.Service) {
	spec := &svc.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
		spec.ClusterIPs = []string{spec.ClusterIP}
	} else if spec.ClusterIP == "" && len(spec.ClusterIPs) > 0 {
		spec.ClusterIP = spec.ClusterIPs[0]
	}
	if spec.ClusterIP == corev1.ClusterIPNone {
		return
	}
	if spec.IPFamilyPolicy == nil {
		p := corev1.IPFamilyPolicySingleStack
		spec.IPFamilyPolicy = &p
	}
	if len(spec.IPFamilies) == 0 {
		spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
}

// svcPrepareForUpdate keeps what the server allocated when an update (typically `kubectl
// apply` of a manifest) leaves it out: cluster IPs and node ports, as Kubernetes'
// patchAllocatedValues does.
func svcPrepareForUpdate(svc, old *corev1.Service) {
	svc.Status = old.Status
	svcDropTypeDependentFields(svc, old)
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0 && old.Spec.ClusterIP != "" {
		svc.Spec.ClusterIP = old.Spec.ClusterIP
		svc.Spec.ClusterIPs = append([]string(nil), old.Spec.ClusterIPs...)
		if len(old.Spec.IPFamilies) > 0 {
			svc.Spec.IPFamilies = append([]corev1.IPFamily(nil), old.Spec.IPFamilies...)
			svc.Spec.IPFamilyPolicy = old.Spec.IPFamilyPolicy
		}
	}
	if !svcNeedsNodePorts(svc.Spec.Type) || !svcNeedsNodePorts(old.Spec.Type) {
		return
	}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if sp.NodePort != 0 {
			continue
		}
		for _, op := range old.Spec.Ports {
			if op.Port == sp.Port && op.Protocol == sp.Protocol {
				sp.NodePort = op.NodePort
				break
			}
		}
	}
	if svc.Spec.HealthCheckNodePort == 0 && svc.Spec.ExternalTrafficPolicy == old.Spec.ExternalTrafficPolicy {
		svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

// svcDropTypeDependentFields is Kubernetes' dropTypeDependentFields: an update to a type that
// no longer uses a field the server may have filled in (cluster IPs and IP families on a switch
// to ExternalName, node ports off NodePort/LoadBalancer, ...) wipes it when the client left it
// as it was, so that `type: ExternalName` on a ClusterIP service is valid without the client
// clearing clusterIPs itself. What was allocated is released by the API server after the update.
func svcDropTypeDependentFields(svc, old *corev1.Service) {
	needsClusterIP := func(s *corev1.Service) bool { return s.Spec.Type != corev1.ServiceTypeExternalName }
	needsHealthCheck := func(s *corev1.Service) bool {
		return s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	}
	if needsClusterIP(old) && !needsClusterIP(svc) {
		if svc.Spec.ClusterIP == old.Spec.ClusterIP && slices.Equal(svc.Spec.ClusterIPs, old.Spec.ClusterIPs) {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		}
		if slices.Equal(svc.Spec.IPFamilies, old.Spec.IPFamilies) {
			svc.Spec.IPFamilies = nil
		}
		if equalPtr(svc.Spec.IPFamilyPolicy, old.Spec.IPFamilyPolicy) {
			svc.Spec.IPFamilyPolicy = nil
		}
	}
	if svcNeedsNodePorts(old.Spec.Type) && !svcNeedsNodePorts(svc.Spec.Type) && svcSameNodePorts(old, svc) {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if needsHealthCheck(old) && !needsHealthCheck(svc) && svc.Spec.HealthCheckNodePort == old.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
	if old.Spec.AllocateLoadBalancerNodePorts != nil && svc.Spec.Type != corev1.ServiceTypeLoadBalancer &&
		equalPtr(svc.Spec.AllocateLoadBalancerNodePorts, old.Spec.AllocateLoadBalancerNodePorts) {
		svc.Spec.AllocateLoadBalancerNodePorts = nil
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer && equalPtr(svc.Spec.LoadBalancerClass, old.Spec.LoadBalancerClass) {
		svc.Spec.LoadBalancerClass = nil
	}
	if svcNeedsNodePorts(old.Spec.Type) && !svcNeedsNodePorts(svc.Spec.Type) && svc.Spec.ExternalTrafficPolicy == old.Spec.ExternalTrafficPolicy {
		svc.Spec.ExternalTrafficPolicy = ""
	}
	if needsClusterIP(old) && !needsClusterIP(svc) && equalPtr(svc.Spec.InternalTrafficPolicy, old.Spec.InternalTrafficPolicy) {
		svc.Spec.InternalTrafficPolicy = nil
	}
}

// svcSameNodePorts: the new service sets no node port, or the same set as the old one.
func svcSameNodePorts(old, svc *corev1.Service) bool {
	ports := func(s *corev1.Service) map[int32]bool {
		m := map[int32]bool{}
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				m[p.NodePort] = true
			}
		}
		return m
	}
	n := ports(svc)
	return len(n) == 0 || maps.Equal(n, ports(old))
}

// equalPtr: both nil, or both pointing at equal values.
func equalPtr[T comparable](a, b *T) bool {
	return a == b || (a != nil && b != nil && *a == *b)
}
