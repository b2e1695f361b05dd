package dns

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// serviceRecords are the records of <name>.<ns>.svc: the cluster IP, or the ready endpoint
// addresses of a headless service, or a CNAME for an ExternalName service; SRV on the bare name
// lists every named port.
func (s *Server) serviceRecords(ns, name string) records {
	svc, err := s.services.Services(ns).Get(name)
	if err != nil {
		return records{}
	}
	r := records{known: true}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		r.cname = svc.Spec.ExternalName
	case headless(svc):
		s.eachAddress(svc, func(a corev1.EndpointAddress, _ []corev1.EndpointPort) {
			if !slices.Contains(r.ips, a.IP) {
				r.ips = append(r.ips, a.IP)
			}
		})
		slices.Sort(r.ips)
	case svc.Spec.ClusterIP != "":
		r.ips = []string{svc.Spec.ClusterIP}
	}
	for _, p := range svc.Spec.Ports {
		if p.Name != "" {
			srv, extra := s.srvRecords(svc, p)
			r.srv, r.extra = append(r.srv, srv...), append(r.extra, extra...)
		}
	}
	return r
}

// hostRecords are the records of <host>.<svc>.<ns>.svc of a headless service: the endpoint
// address whose hostname (or dashed IP when it has none) is host. A service with a cluster IP
// has no such names (as in Kubernetes' DNS).
func (s *Server) hostRecords(ns, name, host string) records {
	svc, err := s.services.Services(ns).Get(name)
	if err != nil || !headless(svc) {
		return records{}
	}
	var r records
	s.eachAddress(svc, func(a corev1.EndpointAddress, _ []corev1.EndpointPort) {
		if hostLabel(a) == host && !slices.Contains(r.ips, a.IP) {
			r.known = true
			r.ips = append(r.ips, a.IP)
		}
	})
	return r
}

// portRecords are the records of _<port>._<proto>.<svc>.<ns>.svc: SRV for that named port.
func (s *Server) portRecords(ns, name, port string, proto corev1.Protocol) records {
	svc, err := s.services.Services(ns).Get(name)
	if err != nil {
		return records{}
	}
	for _, p := range svc.Spec.Ports {
		if p.Name == port && protocolOf(p.Protocol) == proto {
			srv, extra := s.srvRecords(svc, p)
			return records{known: true, srv: srv, extra: extra}
		}
	}
	return records{}
}

// srvRecords are the SRV records of one service port with the addresses of their targets:
// the service name and port, or for a headless service one per ready endpoint address, named
// by its hostname or dashed IP.
func (s *Server) srvRecords(svc *corev1.Service, p corev1.ServicePort) ([]*dns.SRV, []dns.RR) {
	fq := svc.Name + "." + svc.Namespace + ".svc." + s.zone
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		return []*dns.SRV{{Weight: 100, Port: uint16(p.Port), Target: dns.Fqdn(svc.Spec.ExternalName)}}, nil
	case !headless(svc):
		if svc.Spec.ClusterIP == "" {
			return nil, nil
		}
		return []*dns.SRV{{Weight: 100, Port: uint16(p.Port), Target: fq}}, []dns.RR{s.addrRR(fq, svc.Spec.ClusterIP)}
	}
	var srvs []*dns.SRV
	var extra []dns.RR
	s.eachAddress(svc, func(a corev1.EndpointAddress, ports []corev1.EndpointPort) {
		for _, ep := range ports {
			if ep.Name == p.Name && protocolOf(ep.Protocol) == protocolOf(p.Protocol) {
				target := hostLabel(a) + "." + fq
				srvs = append(srvs, &dns.SRV{Port: uint16(ep.Port), Target: target})
				if rr := s.addrRR(target, a.IP); rr != nil {
					extra = append(extra, rr)
				}
			}
		}
	})
	for _, srv := range srvs {
		srv.Weight = uint16(max(1, 100/len(srvs)))
	}
	return srvs, extra
}

// eachAddress calls fn for every address DNS publishes for svc: the ready ones, and the not
// ready ones too when the service says publishNotReadyAddresses.
func (s *Server) eachAddress(svc *corev1.Service, fn func(corev1.EndpointAddress, []corev1.EndpointPort)) {
	ep, err := s.endpoint.Endpoints(svc.Namespace).Get(svc.Name)
	if err != nil {
		return
	}
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			fn(a, ss.Ports)
		}
		if svc.Spec.PublishNotReadyAddresses {
			for _, a := range ss.NotReadyAddresses {
				fn(a, ss.Ports)
			}
		}
	}
}

func headless(svc *corev1.Service) bool { return svc.Spec.ClusterIP == corev1.ClusterIPNone }

// hostLabel names an endpoint address in DNS: its hostname, else its IP with dashes.
func hostLabel(a corev1.EndpointAddress) string {
	if a.Hostname != "" {
		return strings.ToLower(a.Hostname)
	}
	return strings.NewReplacer(".", "-", ":", "-").Replace(a.IP)
}

// protocolOf defaults an empty protocol to TCP.
func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}
