package dns

import (
	"net"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// records are what the cluster knows about one name.
type records struct {
	known bool
	ips   []string   // addresses of the name (A or AAAA by family)
	cname string     // ExternalName target
	srv   []*dns.SRV // headers are filled in by answer
	extra []dns.RR   // addresses of SRV targets
}

// answer builds the authoritative reply to a query for a name in the cluster domain.
func (s *Server) answer(req *dns.Msg) *dns.Msg {
	q := req.Question[0]
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative, m.RecursionAvailable = true, true
	r := s.lookup(strings.ToLower(q.Name))
	if !r.known {
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{s.soa()}
		return m
	}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: s.ttl}
	}
	switch {
	case r.cname != "":
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: dns.Fqdn(r.cname)})
	case q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY:
		for _, ip := range r.ips {
			if rr := s.addrRR(q.Name, ip); rr != nil && (q.Qtype == dns.TypeANY || rr.Header().Rrtype == q.Qtype) {
				m.Answer = append(m.Answer, rr)
			}
		}
	case q.Qtype == dns.TypeSRV:
		for _, srv := range r.srv {
			srv.Hdr = hdr(dns.TypeSRV)
			m.Answer = append(m.Answer, srv)
		}
		m.Extra = r.extra
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{s.soa()}
	}
	return m
}

// addrRR is an A or AAAA record for ip (nil when ip does not parse).
func (s *Server) addrRR(name, ip string) dns.RR {
	p := net.ParseIP(ip)
	if p == nil {
		return nil
	}
	if v4 := p.To4(); v4 != nil {
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: s.ttl}, A: v4}
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: s.ttl}, AAAA: p}
}

// soa is the zone's SOA, sent in the authority section of empty and NXDOMAIN answers.
func (s *Server) soa() dns.RR {
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: s.zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: s.ttl},
		Ns:  "ns.dns." + s.zone, Mbox: "hostmaster." + s.zone,
		Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: s.ttl,
	}
}

// lookup resolves a lower-case, fully qualified name inside the zone.
func (s *Server) lookup(name string) records {
	rest := strings.TrimSuffix(strings.TrimSuffix(name, s.zone), ".")
	if rest == "" {
		return records{known: true}
	}
	l := strings.Split(rest, ".")
	n := len(l)
	switch l[n-1] {
	case "svc":
		return s.lookupSvc(l[:n-1])
	case "pod":
		return lookupPod(l[:n-1])
	}
	return records{}
}

// lookupSvc resolves the labels in front of "svc.<zone>".
func (s *Server) lookupSvc(l []string) records {
	switch len(l) {
	case 0:
		return records{known: true}
	case 1: // <ns>.svc
		svcs, err := s.services.Services(l[0]).List(labels.Everything())
		return records{known: err == nil && len(svcs) > 0}
	case 2: // <svc>.<ns>.svc
		return s.serviceRecords(l[1], l[0])
	case 3: // <host>.<svc>.<ns>.svc
		return s.hostRecords(l[2], l[1], l[0])
	case 4: // _<port>._<proto>.<svc>.<ns>.svc
		if !strings.HasPrefix(l[0], "_") || !strings.HasPrefix(l[1], "_") {
			return records{}
		}
		return s.portRecords(l[3], l[2], l[0][1:], corev1.Protocol(strings.ToUpper(l[1][1:])))
	}
	return records{}
}

// lookupPod resolves <a-b-c-d>.<ns>.pod to the address in its name (kube-dns "pods insecure").
func lookupPod(l []string) records {
	switch len(l) {
	case 0, 1:
		return records{known: true}
	case 2:
		ip := strings.ReplaceAll(l[0], "-", ".")
		if net.ParseIP(ip).To4() == nil {
			ip = strings.ReplaceAll(l[0], "-", ":")
		}
		if net.ParseIP(ip) != nil {
			return records{known: true, ips: []string{ip}}
		}
	}
	return records{}
}
