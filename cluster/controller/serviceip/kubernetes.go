package serviceip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const kubernetesKey = "default/kubernetes"

// DefaultAPIServerPort is the kubernetes service's targetPort when the API server's own port
// cannot be learnt.
const DefaultAPIServerPort = 6443

// ensureKubernetes creates the `kubernetes` service in `default` if it is missing (cluster IP:
// the CIDR's first host address, https 443 → the API server's port) and its Endpoints when the
// API server's address is known and reachable from pods (not loopback).
func (c *Controller) ensureKubernetes(ctx context.Context) error {
	_, err := c.services.Services("default").Get("kubernetes")
	if apierrors.IsNotFound(err) {
		err = c.createKubernetes(ctx)
	}
	if err != nil {
		return err
	}
	if err := c.ensureKubernetesEndpoints(ctx); err != nil {
		return err
	}
	return c.ensureKubernetesEndpointSlice(ctx)
}

func (c *Controller) createKubernetes(ctx context.Context) error {
	ip := c.st.ips.Reserved()
	if c.st.claimIP(kubernetesKey, ip) != nil {
		ip = netip.Addr{} // taken by someone else: the sync allocates another one
	}
	svc := kubernetesService(ip, c.targetPort())
	_, err := c.client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil // the cache has not seen it yet; its sync fixes the allocation
	}
	if err != nil {
		c.st.releaseExcept(kubernetesKey, nil, nil)
		return fmt.Errorf("create the kubernetes service: %w", err)
	}
	return nil
}

func kubernetesService(ip netip.Addr, targetPort int) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			Type:            corev1.ServiceTypeClusterIP,
			SessionAffinity: corev1.ServiceAffinityNone,
			Ports: []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443,
				TargetPort: intstr.FromInt32(int32(targetPort))}},
		},
	}
	if ip.IsValid() {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip.String(), []string{ip.String()}
	}
	return svc
}

func (c *Controller) targetPort() int {
	if c.apiAddr.IsValid() {
		return int(c.apiAddr.Port())
	}
	return DefaultAPIServerPort
}

// ensureKubernetesEndpoints writes the kubernetes Endpoints when the API server's address is known.
func (c *Controller) ensureKubernetesEndpoints(ctx context.Context) error {
	if !c.apiAddr.IsValid() {
		return nil
	}
	want := []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: c.apiAddr.Addr().String()}},
		Ports:     []corev1.EndpointPort{{Name: "https", Port: int32(c.apiAddr.Port()), Protocol: corev1.ProtocolTCP}},
	}}
	eps := c.client.CoreV1().Endpoints("default")
	cur, err := eps.Get(ctx, "kubernetes", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: skipMirror()}, Subsets: want}
		_, err = eps.Create(ctx, ep, metav1.CreateOptions{})
		return err
	}
	if err != nil || (apiequality.Semantic.DeepEqual(cur.Subsets, want) && cur.Labels[discoveryv1.LabelSkipMirror] == "true") {
		return err
	}
	cur.Subsets = want
	if cur.Labels == nil {
		cur.Labels = map[string]string{}
	}
	cur.Labels[discoveryv1.LabelSkipMirror] = "true"
	_, err = eps.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}

// skipMirror is the label Kubernetes' endpoints reconciler puts on the kubernetes Endpoints:
// its EndpointSlice is written directly, not mirrored.
func skipMirror() map[string]string {
	return map[string]string{discoveryv1.LabelSkipMirror: "true"}
}

// ensureKubernetesEndpointSlice writes the kubernetes Service's EndpointSlice (named
// kubernetes, as Kubernetes' endpoints reconciler writes it beside the Endpoints) when the API
// server's address is known.
func (c *Controller) ensureKubernetesEndpointSlice(ctx context.Context) error {
	if !c.apiAddr.IsValid() {
		return nil
	}
	ready := true
	name, proto, port := "https", corev1.ProtocolTCP, int32(c.apiAddr.Port())
	want := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelSkipMirror: "true", discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{c.apiAddr.Addr().String()},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports: []discoveryv1.EndpointPort{{Name: &name, Protocol: &proto, Port: &port}},
	}
	api := c.client.DiscoveryV1().EndpointSlices("default")
	cur, err := api.Get(ctx, "kubernetes", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = api.Create(ctx, want, metav1.CreateOptions{})
		return err
	}
	if err != nil || (apiequality.Semantic.DeepEqual(cur.Endpoints, want.Endpoints) && apiequality.Semantic.DeepEqual(cur.Ports, want.Ports) &&
		apiequality.Semantic.DeepEqual(cur.Labels, want.Labels) && cur.AddressType == want.AddressType) {
		return err
	}
	if cur.AddressType != want.AddressType { // immutable: replace the slice
		if err := api.Delete(ctx, "kubernetes", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		_, err = api.Create(ctx, want, metav1.CreateOptions{})
		return err
	}
	cur.Endpoints, cur.Ports, cur.Labels = want.Endpoints, want.Ports, want.Labels
	_, err = api.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}

// apiServerAddress is the API server's IP and port as the client reaches it, when that is an
// IP address a pod could use too (not loopback, unspecified or link-local). A host name or a
// fake client gives nothing.
func apiServerAddress(client kubernetes.Interface) netip.AddrPort {
	if client == nil {
		return netip.AddrPort{}
	}
	rc, ok := client.CoreV1().RESTClient().(*rest.RESTClient)
	if !ok || rc == nil || rc.Get().URL() == nil {
		return netip.AddrPort{}
	}
	u := rc.Get().URL()
	host, portStr, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, portStr = u.Host, "443"
		if u.Scheme == "http" {
			portStr = "80"
		}
	}
	ip, err := netip.ParseAddr(host)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || !ip.Is4() || ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip, uint16(port))
}
