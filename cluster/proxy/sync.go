package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// defaultAffinity is Kubernetes' default sessionAffinityConfig.clientIP.timeoutSeconds (3 h).
const defaultAffinity = 10800 * time.Second

// serviceState is what the proxy has set up for one service.
type serviceState struct {
	ip    string                // cluster IP added through Addrs
	ports map[string]*portState // by port name and protocol
}

// portState is one service port: its protocol, its balancer and the listeners serving it, by
// address.
type portState struct {
	protocol  corev1.Protocol
	b         *balancer
	listeners map[string]listener
}

// listener serves one address of a service port (tcpListener, udpListener).
type listener interface{ close() }

// sync makes the listeners and backends of one service match the API.
func (p *Proxy) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := p.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) || (err == nil && !proxied(svc)) {
		p.teardown(ctx, key)
		return nil
	}
	if err != nil {
		return err
	}
	st := p.state[key]
	if st != nil && st.ip != svc.Spec.ClusterIP {
		p.teardown(ctx, key)
		st = nil
	}
	if st == nil {
		if err := p.cfg.Addrs.Add(ctx, svc.Spec.ClusterIP); err != nil {
			return fmt.Errorf("adding the cluster IP: %w", err)
		}
		st = &serviceState{ip: svc.Spec.ClusterIP, ports: map[string]*portState{}}
		p.state[key] = st
	}
	want := map[string]corev1.ServicePort{}
	for _, sp := range svc.Spec.Ports {
		switch protocolOf(sp.Protocol) {
		case corev1.ProtocolTCP, corev1.ProtocolUDP:
			want[sp.Name+"/"+string(protocolOf(sp.Protocol))] = sp
		default:
			p.log.Warn("service port not proxied: drover's proxy serves TCP and UDP", "service", key, "port", sp.Name, "protocol", sp.Protocol)
		}
	}
	for k, ps := range st.ports {
		if _, ok := want[k]; !ok {
			ps.close()
			delete(st.ports, k)
		}
	}
	affinity := affinityOf(svc)
	var errs []error
	for k, sp := range want {
		ps := st.ports[k]
		if ps == nil {
			ps = &portState{protocol: protocolOf(sp.Protocol), b: newBalancer(p.cfg.Now), listeners: map[string]listener{}}
			st.ports[k] = ps
		}
		ps.b.set(p.backends(svc, sp), affinity)
		errs = append(errs, p.listen(ps, p.listenAddrs(svc, sp)))
	}
	return errors.Join(errs...)
}

// listen closes the listeners of ps that are not in addrs and opens the missing ones.
func (p *Proxy) listen(ps *portState, addrs []string) error {
	for a, l := range ps.listeners {
		if !slices.Contains(addrs, a) {
			l.close()
			delete(ps.listeners, a)
		}
	}
	var errs []error
	for _, a := range addrs {
		if ps.listeners[a] != nil {
			continue
		}
		var l listener
		var err error
		if ps.protocol == corev1.ProtocolUDP {
			l, err = listenUDP(a, ps.b, p.log)
		} else {
			l, err = listenTCP(a, ps.b, p.cfg.DialTimeout, p.log)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("listening on %s: %w", a, err))
			continue
		}
		ps.listeners[a] = l
	}
	return errors.Join(errs...)
}

func (ps *portState) close() {
	for _, l := range ps.listeners {
		l.close()
	}
}

// teardown closes the listeners of a service and removes its cluster IP.
func (p *Proxy) teardown(ctx context.Context, key string) {
	st := p.state[key]
	if st == nil {
		return
	}
	for _, ps := range st.ports {
		ps.close()
	}
	if err := p.cfg.Addrs.Remove(ctx, st.ip); err != nil {
		p.log.Warn("removing a cluster IP", "service", key, "ip", st.ip, "err", err)
	}
	delete(p.state, key)
}

// listenAddrs are where a service port is served: the cluster IP, and the node port.
func (p *Proxy) listenAddrs(svc *corev1.Service, sp corev1.ServicePort) []string {
	out := []string{net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(sp.Port)))}
	t := svc.Spec.Type
	if sp.NodePort != 0 && (t == corev1.ServiceTypeNodePort || t == corev1.ServiceTypeLoadBalancer) {
		host := p.cfg.NodePortAddress
		if host == "0.0.0.0" {
			host = ""
		}
		out = append(out, net.JoinHostPort(host, strconv.Itoa(int(sp.NodePort))))
	}
	return out
}

// backends are the ready endpoint addresses ("ip:port") of a service port, sorted.
func (p *Proxy) backends(svc *corev1.Service, sp corev1.ServicePort) []string {
	ep, err := p.endpoints.Endpoints(svc.Namespace).Get(svc.Name)
	if err != nil {
		return nil
	}
	var out []string
	for _, ss := range ep.Subsets {
		for _, port := range ss.Ports {
			if port.Name != sp.Name || protocolOf(port.Protocol) != protocolOf(sp.Protocol) {
				continue
			}
			for _, a := range ss.Addresses {
				out = append(out, net.JoinHostPort(a.IP, strconv.Itoa(int(port.Port))))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// proxied tells whether a service has a cluster IP to serve.
func proxied(svc *corev1.Service) bool {
	ip := svc.Spec.ClusterIP
	return ip != "" && ip != corev1.ClusterIPNone && svc.Spec.Type != corev1.ServiceTypeExternalName
}

// affinityOf is the ClientIP session timeout of svc (0: no affinity).
func affinityOf(svc *corev1.Service) time.Duration {
	if svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		return 0
	}
	if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
		return time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
	}
	return defaultAffinity
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}
