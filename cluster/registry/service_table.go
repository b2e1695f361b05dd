package registry

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// svcTable prints services as kubectl v1.32 does: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S)
// AGE, and SELECTOR with -o wide.
func svcTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Type", "string", corev1.ServiceSpec{}.SwaggerDoc()["type"], 0),
			column("Cluster-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"], 0),
			column("External-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"], 0),
			column("Port(s)", "string", corev1.ServiceSpec{}.SwaggerDoc()["ports"], 0),
			ageColumn,
			column("Selector", "string", corev1.ServiceSpec{}.SwaggerDoc()["selector"], 1),
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			svc, ok := obj.(*corev1.Service)
			if !ok {
				return nil, fmt.Errorf("service table: unexpected object %T", obj)
			}
			clusterIP := "<none>"
			if len(svc.Spec.ClusterIPs) > 0 {
				clusterIP = svc.Spec.ClusterIPs[0]
			}
			return []interface{}{svc.Name, string(svc.Spec.Type), clusterIP, svcExternalIP(svc),
				stringOrNone(svcPortString(svc.Spec.Ports)), translateTimestampSince(svc.CreationTimestamp),
				labels.FormatLabels(svc.Spec.Selector)}, nil
		},
	}
}

// svcPortString renders ports as "8080:30080/TCP,50000/TCP".
func svcPortString(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		pieces[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}

// svcExternalIP renders the EXTERNAL-IP column: external IPs, load balancer ingress
// ("<pending>" while there is none), the external name, or "<none>".
func svcExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		return stringOrNone(strings.Join(svc.Spec.ExternalIPs, ","))
	case corev1.ServiceTypeLoadBalancer:
		ips := append(svcIngressAddresses(svc.Status.LoadBalancer), svc.Spec.ExternalIPs...)
		if len(ips) == 0 {
			return "<pending>"
		}
		return strings.Join(ips, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// svcIngressAddresses returns the sorted, distinct IPs (or host names) of a load balancer.
func svcIngressAddresses(lb corev1.LoadBalancerStatus) []string {
	seen := map[string]bool{}
	var out []string
	for _, ing := range lb.Ingress {
		a := ing.IP
		if a == "" {
			a = ing.Hostname
		}
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}
