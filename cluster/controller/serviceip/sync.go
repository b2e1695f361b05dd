package serviceip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// sync allocates what one service lacks and frees what it no longer names.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.release(key, nil)
		if key == kubernetesKey {
			return c.ensureKubernetes(ctx)
		}
		return nil
	}
	if err != nil {
		return err
	}
	next := svc.DeepCopy()
	changed, err := c.assign(key, next)
	if err == nil && changed {
		_, err = c.client.CoreV1().Services(ns).Update(ctx, next, metav1.UpdateOptions{})
		if err != nil {
			err = fmt.Errorf("update service %s: %w", key, err) // a conflict is retried on the newer object
		}
	}
	if err != nil {
		c.release(key, svc) // undo what this sync took
		return err
	}
	c.release(key, next)
	return nil
}

// release frees what key holds beyond what svc names (everything when svc is nil); when
// something is freed, the services that wanted something taken are looked at again.
func (c *Controller) release(key string, svc *corev1.Service) {
	var keepIPs map[netip.Addr]bool
	var keepPorts map[int]bool
	if svc != nil {
		keepIPs, keepPorts = inUse(svc)
	}
	if !c.st.releaseExcept(key, keepIPs, keepPorts) {
		return
	}
	for k := range c.st.conflicted {
		if k != key {
			c.queue.Add(k)
		}
	}
}

// assign fills in svc's missing cluster IP and node ports and checks the ones it names; it
// reports whether svc changed.
func (c *Controller) assign(key string, svc *corev1.Service) (bool, error) {
	delete(c.st.conflicted, key)
	changed := false
	if svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0 {
			ip, err := c.st.nextIP(key)
			if err != nil {
				c.recorder.Eventf(svc, corev1.EventTypeWarning, ReasonAllocationError, "Failed to allocate a cluster IP: %v", err)
				return false, err
			}
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip.String(), []string{ip.String()}
			changed = true
		} else {
			for _, s := range clusterIPs(svc) {
				c.checkIP(key, svc, s)
			}
		}
	}
	if !needsNodePorts(svc) {
		return changed, nil
	}
	ports, err := c.assignNodePorts(key, svc)
	return changed || ports, err
}

// checkIP claims an address the service names, or says why it cannot have it.
func (c *Controller) checkIP(key string, svc *corev1.Service, s string) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return // validation's business
	}
	switch err := c.st.claimIP(key, ip); {
	case errors.Is(err, ErrAllocated):
		c.st.conflicted[key] = true
		c.recorder.Eventf(svc, corev1.EventTypeWarning, ReasonIPAllocated,
			"Cluster IP %s is already allocated to service %s", ip, c.st.ipOwner[ip])
	case errors.Is(err, ErrNotInRange):
		c.recorder.Eventf(svc, corev1.EventTypeWarning, ReasonIPOutOfRange,
			"Cluster IP %s is not within the service CIDR %s", ip, c.st.ips.CIDR())
	}
}

// assignNodePorts claims the node ports the service names and allocates the missing ones; ports
// with the same port number (TCP and UDP) share one node port, as in Kubernetes.
func (c *Controller) assignNodePorts(key string, svc *corev1.Service) (bool, error) {
	byPort := map[int32]int32{}
	for _, p := range svc.Spec.Ports {
		if p.NodePort == 0 {
			continue
		}
		byPort[p.Port] = p.NodePort
		c.checkPort(key, svc, int(p.NodePort))
	}
	changed := false
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		if np, ok := byPort[p.Port]; ok {
			p.NodePort, changed = np, true
			continue
		}
		np, err := c.st.nextPort(key)
		if err != nil {
			c.recorder.Eventf(svc, corev1.EventTypeWarning, ReasonAllocationError, "Failed to allocate a node port: %v", err)
			return changed, err
		}
		p.NodePort, byPort[p.Port], changed = int32(np), int32(np), true
	}
	return changed, nil
}

func (c *Controller) checkPort(key string, svc *corev1.Service, port int) {
	switch err := c.st.claimPort(key, port); {
	case errors.Is(err, ErrAllocated):
		c.st.conflicted[key] = true
		c.recorder.Eventf(svc, corev1.EventTypeWarning, ReasonPortAllocated,
			"Port %d is already allocated to service %s", port, c.st.portOwner[port])
	case errors.Is(err, ErrNotInRange):
		c.recorder.Eventf(svc, corev1.EventTypeWarning, ReasonPortOutOfRange,
			"Port %d is not within the node port range %d-%d", port, c.st.ports.Min, c.st.ports.Max)
	}
}

// needsNodePorts: NodePort services, and LoadBalancer ones unless allocateLoadBalancerNodePorts is false.
func needsNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}
