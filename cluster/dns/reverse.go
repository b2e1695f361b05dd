package dns

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Reverse lookups (PTR) as CoreDNS's kubernetes plugin serves them with its Corefile's
// `kubernetes cluster.local in-addr.arpa ip6.arpa { fallthrough in-addr.arpa ip6.arpa }`:
// a service's cluster IP names the service (<svc>.<ns>.svc.<zone>), else an endpoint address
// names its host in each service it backs (<hostname or dashed IP>.<svc>.<ns>.svc.<zone>);
// any other address falls through to the upstream resolvers.

const (
	clusterIPIndex = "clusterIP" // services by each of spec.clusterIPs
	endpointIndex  = "ip"        // endpoints by each ready address
)

// addReverseIndexers indexes services by cluster IP and endpoints by address; called before
// the informers start.
func addReverseIndexers(svcs, eps cache.SharedIndexInformer) error {
	if err := svcs.AddIndexers(cache.Indexers{clusterIPIndex: func(obj any) ([]string, error) {
		svc, ok := obj.(*corev1.Service)
		if !ok {
			return nil, nil
		}
		var out []string
		for _, ip := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
			if ip != "" && ip != corev1.ClusterIPNone && !slices.Contains(out, ip) {
				out = append(out, ip)
			}
		}
		return out, nil
	}}); err != nil {
		return fmt.Errorf("dns: indexing services by cluster IP: %w", err)
	}
	if err := eps.AddIndexers(cache.Indexers{endpointIndex: func(obj any) ([]string, error) {
		ep, ok := obj.(*corev1.Endpoints)
		if !ok {
			return nil, nil
		}
		var out []string
		for _, ss := range ep.Subsets {
			for _, a := range ss.Addresses {
				if !slices.Contains(out, a.IP) {
					out = append(out, a.IP)
				}
			}
		}
		return out, nil
	}}); err != nil {
		return fmt.Errorf("dns: indexing endpoints by address: %w", err)
	}
	return nil
}

// isReverse tells whether name (lower case, fully qualified) is in a reverse zone.
func isReverse(name string) bool {
	return dns.IsSubDomain("in-addr.arpa.", name) || dns.IsSubDomain("ip6.arpa.", name)
}

// reverseIP is the address a reverse name stands for ("4.3.2.1.in-addr.arpa." → 1.2.3.4),
// or "" when the name is not a whole address.
func reverseIP(name string) string {
	switch {
	case strings.HasSuffix(name, ".in-addr.arpa."):
		l := strings.Split(strings.TrimSuffix(name, ".in-addr.arpa."), ".")
		if len(l) != 4 {
			return ""
		}
		slices.Reverse(l)
		ip := net.ParseIP(strings.Join(l, "."))
		if ip == nil || ip.To4() == nil {
			return ""
		}
		return ip.String()
	case strings.HasSuffix(name, ".ip6.arpa."):
		l := strings.Split(strings.TrimSuffix(name, ".ip6.arpa."), ".")
		if len(l) != 32 {
			return ""
		}
		slices.Reverse(l)
		var b strings.Builder
		for i, n := range l {
			if len(n) != 1 || !strings.Contains("0123456789abcdef", n) {
				return ""
			}
			if i > 0 && i%4 == 0 {
				b.WriteByte(':')
			}
			b.WriteString(n)
		}
		ip := net.ParseIP(b.String())
		if ip == nil {
			return ""
		}
		return ip.String()
	}
	return ""
}

// reverseNames are the names the cluster gives ip, sorted: the services whose cluster IP it
// is, else its host names in the endpoints it is a ready address of; nil when none.
func (s *Server) reverseNames(ip string) []string {
	var out []string
	objs, _ := s.svcIndex.ByIndex(clusterIPIndex, ip)
	for _, o := range objs {
		if svc, ok := o.(*corev1.Service); ok {
			out = append(out, svc.Name+"."+svc.Namespace+".svc."+s.zone)
		}
	}
	if len(out) == 0 {
		objs, _ = s.epIndex.ByIndex(endpointIndex, ip)
		for _, o := range objs {
			ep, ok := o.(*corev1.Endpoints)
			if !ok {
				continue
			}
			for _, ss := range ep.Subsets {
				for _, a := range ss.Addresses {
					if a.IP == ip {
						out = append(out, hostLabel(a)+"."+ep.Name+"."+ep.Namespace+".svc."+s.zone)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// answerReverse answers a query in a reverse zone for an address the cluster knows, or
// returns nil so that the query falls through to the upstreams.
func (s *Server) answerReverse(req *dns.Msg) *dns.Msg {
	q := req.Question[0]
	ip := reverseIP(strings.ToLower(q.Name))
	if ip == "" {
		return nil
	}
	names := s.reverseNames(ip)
	if len(names) == 0 {
		return nil
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable = true, true
	if q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY {
		for _, n := range names {
			m.Answer = append(m.Answer, &dns.PTR{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: s.ttl},
				Ptr: n})
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{s.soa()}
	}
	return m
}
