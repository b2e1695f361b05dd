package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// Service cluster IPs and node ports are allocated in the create and update paths, as
// Kubernetes' service registry does, so the response carries them. What is taken lives in the
// store, not in memory, so that several API servers over one store never hand out the same
// value: one record per range (like Kubernetes' RangeAllocation objects in etcd), a JSON map
// from value to the holding service, changed only by a write conditioned on the revision read
// (re-read and re-applied on conflict). A record missing from the store is seeded from the
// services stored. A value whose holder is gone (a server that died between allocating and
// storing the service) is taken back once its entry is older than allocLeakAge. The serviceip
// controller stays as the repair loop.
const (
	clusterIPsKey = "_allocations/services/clusterips"
	nodePortsKey  = "_allocations/services/nodeports"
	allocLeakAge  = time.Minute
	// dnsHostIndex is kept out of automatic allocation: drover's default cluster DNS address
	// is the tenth host of the service CIDR (10.96.0.10), as kube-dns's in Kubernetes.
	dnsHostIndex = 10
)

// Kubernetes' allocator errors.
var (
	errIPAllocated   = errors.New("provided IP is already allocated")
	errPortAllocated = errors.New("provided port is already allocated")
)

type allocEntry struct {
	Service string    `json:"service"` // namespace/name
	UID     types.UID `json:"uid"`
	Since   time.Time `json:"since"`
}

type allocRecord map[string]allocEntry

// serviceRanges are the ranges the API server allocates from.
type serviceRanges struct {
	cidr             netip.Prefix
	portMin, portMax int
}

func newServiceRanges(cidr string, portMin, portMax int) (serviceRanges, error) {
	if cidr == "" {
		cidr = "10.96.0.0/16"
	}
	if portMin == 0 {
		portMin = 30000
	}
	if portMax == 0 {
		portMax = 32767
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return serviceRanges{}, fmt.Errorf("apiserver: service CIDR %q: want an IPv4 CIDR of at most /30", cidr)
	}
	if portMin < 1 || portMax > 65535 || portMin > portMax {
		return serviceRanges{}, fmt.Errorf("apiserver: node port range %d-%d", portMin, portMax)
	}
	return serviceRanges{cidr: p.Masked(), portMin: portMin, portMax: portMax}, nil
}

func ipToUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintToIP(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// serviceIPsOf and serviceNodePortsOf are what a service holds.
func serviceIPsOf(svc *corev1.Service) []string {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return nil
	}
	var out []string
	for _, s := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
		if s == "" || s == corev1.ClusterIPNone || containsString(out, s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

func serviceNodePortsOf(svc *corev1.Service) []int {
	var out []int
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 && !containsInt(out, int(p.NodePort)) {
			out = append(out, int(p.NodePort))
		}
	}
	return out
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func needsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0
}

func needsNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

// allocateService fills in the cluster IP and node ports svc lacks and claims those it names
// (old is the stored service on update, nil on create). On success it returns a function that
// undoes the claims made for a write that then fails. Errors are Kubernetes' 422s.
func (s *Server) allocateService(ctx context.Context, svc *corev1.Service) (undo func(), err error) {
	if svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		auto := needsClusterIP(svc)
		var got string
		err := s.modifyAllocations(ctx, clusterIPsKey, func(rec allocRecord) error {
			if auto {
				ip, err := s.nextIP(ctx, rec)
				if err != nil {
					return err
				}
				got = ip
				rec[ip] = allocEntry{Service: svc.Namespace + "/" + svc.Name, UID: svc.UID, Since: s.now()}
				return nil
			}
			for _, ip := range serviceIPsOf(svc) {
				if err := s.claim(ctx, rec, clusterIPsKey, ip, svc, s.checkIP); err != nil {
					return serviceInvalid(svc, field.Invalid(field.NewPath("spec", "clusterIPs"), svc.Spec.ClusterIPs,
						fmt.Sprintf("failed to allocate IP %s: %v", ip, err)))
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if auto {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = got, []string{got}
			if svc.Spec.IPFamilyPolicy == nil {
				p := corev1.IPFamilyPolicySingleStack
				svc.Spec.IPFamilyPolicy = &p
			}
			if len(svc.Spec.IPFamilies) == 0 {
				svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
			}
		}
	}
	if !needsNodePorts(svc) {
		// Node ports named without needing them (type ClusterIP) are Kubernetes' validation
		// error; they are not claimed here.
		return func() { s.releaseService(context.WithoutCancel(ctx), svc, nil) }, nil
	}
	err = s.modifyAllocations(ctx, nodePortsKey, func(rec allocRecord) error {
		byPort := map[int32]int32{}
		for i, p := range svc.Spec.Ports {
			if p.NodePort == 0 {
				continue
			}
			if err := s.claim(ctx, rec, nodePortsKey, strconv.Itoa(int(p.NodePort)), svc, s.checkPort); err != nil {
				return serviceInvalid(svc, field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, err.Error()))
			}
			byPort[p.Port] = p.NodePort
		}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort != 0 {
				continue
			}
			if np, ok := byPort[p.Port]; ok { // TCP and UDP of one port share a node port
				p.NodePort = np
				continue
			}
			np, err := s.nextPort(ctx, rec)
			if err != nil {
				return err
			}
			rec[strconv.Itoa(np)] = allocEntry{Service: svc.Namespace + "/" + svc.Name, UID: svc.UID, Since: s.now()}
			p.NodePort, byPort[p.Port] = int32(np), int32(np)
		}
		return nil
	})
	if err != nil {
		s.releaseService(context.WithoutCancel(ctx), svc, nil)
		return nil, err
	}
	return func() { s.releaseService(context.WithoutCancel(ctx), svc, nil) }, nil
}

func serviceInvalid(svc *corev1.Service, e *field.Error) error {
	return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), svc.Name, field.ErrorList{e})
}

func (s *Server) broadcast() netip.Addr {
	p := s.svcRanges.cidr
	return uintToIP(ipToUint(p.Addr()) | (1<<(32-p.Bits()) - 1))
}

// checkIP and checkPort are the range checks of named values, with Kubernetes' messages.
func (s *Server) checkIP(v string) error {
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() {
		return nil // validation's business
	}
	if !s.svcRanges.cidr.Contains(a) || a == s.svcRanges.cidr.Addr() || a == s.broadcast() {
		return fmt.Errorf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", a, s.svcRanges.cidr)
	}
	return nil
}

func (s *Server) checkPort(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil
	}
	if n < s.svcRanges.portMin || n > s.svcRanges.portMax {
		return fmt.Errorf("provided port is not in the valid range. The range of valid ports is %d-%d", s.svcRanges.portMin, s.svcRanges.portMax)
	}
	return nil
}

// claim takes value v for svc in the record rec of key: free, already svc's, or held by a
// service that is gone (after allocLeakAge); else errIPAllocated/errPortAllocated.
func (s *Server) claim(ctx context.Context, rec allocRecord, key, v string, svc *corev1.Service, check func(string) error) error {
	if err := check(v); err != nil {
		return err
	}
	if e, ok := rec[v]; ok && e.UID != svc.UID && s.holderLive(ctx, e) {
		if key == clusterIPsKey {
			return errIPAllocated
		}
		return errPortAllocated
	}
	rec[v] = allocEntry{Service: svc.Namespace + "/" + svc.Name, UID: svc.UID, Since: s.now()}
	return nil
}

// holderLive reports whether the service an entry names still exists (or may be about to:
// entries younger than allocLeakAge are kept).
func (s *Server) holderLive(ctx context.Context, e allocEntry) bool {
	if s.now().Sub(e.Since) < allocLeakAge {
		return true
	}
	ns, name, _ := cutService(e.Service)
	obj, _, err := s.getObject(ctx, s.servicesRes(), ns, name)
	if err != nil {
		return !apierrors.IsNotFound(err)
	}
	return accessor(obj).GetUID() == e.UID
}

func cutService(s string) (ns, name string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}

// nextIP picks a free address from a random start, skipping the network and broadcast
// addresses, the first host (the `kubernetes` service's) and the cluster DNS address.
func (s *Server) nextIP(ctx context.Context, rec allocRecord) (string, error) {
	p := s.svcRanges.cidr
	size := uint32(1) << (32 - p.Bits())
	base := ipToUint(p.Addr())
	start := rand.Uint32N(size)
	for pass := 0; pass < 2; pass++ {
		for i := uint32(0); i < size; i++ {
			idx := (start + i) % size
			if idx == 0 || idx == size-1 || idx == 1 || idx == dnsHostIndex {
				continue
			}
			v := uintToIP(base + idx).String()
			e, held := rec[v]
			if !held || (pass == 1 && !s.holderLive(ctx, e)) {
				return v, nil
			}
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: range is full"))
}

func (s *Server) nextPort(ctx context.Context, rec allocRecord) (int, error) {
	n := s.svcRanges.portMax - s.svcRanges.portMin + 1
	start := rand.IntN(n)
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < n; i++ {
			port := s.svcRanges.portMin + (start+i)%n
			e, held := rec[strconv.Itoa(port)]
			if !held || (pass == 1 && !s.holderLive(ctx, e)) {
				return port, nil
			}
		}
	}
	return 0, apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: range is full"))
}

// releaseService frees what svc holds in both records except what keep (the service as
// stored after an update) still names; entries of another uid are left alone.
func (s *Server) releaseService(ctx context.Context, svc, keep *corev1.Service) {
	for _, k := range []struct {
		key  string
		vals []string
		keep []string
	}{
		{clusterIPsKey, serviceIPsOf(svc), keepIPs(keep)},
		{nodePortsKey, intsToStrings(serviceNodePortsOf(svc)), keepPorts(keep)},
	} {
		if len(k.vals) == 0 {
			continue
		}
		err := s.modifyAllocations(ctx, k.key, func(rec allocRecord) error {
			for _, v := range k.vals {
				if e, ok := rec[v]; ok && e.UID == svc.UID && !containsString(k.keep, v) {
					delete(rec, v)
				}
			}
			return nil
		})
		if err != nil {
			s.log.Warn("service allocations: release failed (the entries are taken back later)", "service", svc.Namespace+"/"+svc.Name, "err", err)
		}
	}
}

func keepIPs(svc *corev1.Service) []string {
	if svc == nil {
		return nil
	}
	return serviceIPsOf(svc)
}

func keepPorts(svc *corev1.Service) []string {
	if svc == nil {
		return nil
	}
	return intsToStrings(serviceNodePortsOf(svc))
}

func intsToStrings(l []int) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = strconv.Itoa(v)
	}
	return out
}

// modifyAllocations applies fn to the record at key and writes it back on condition that it
// did not change meanwhile (created when missing, seeded from the stored services), retrying
// on conflict.
func (s *Server) modifyAllocations(ctx context.Context, key string, fn func(allocRecord) error) error {
	for attempt := 0; attempt < 50; attempt++ {
		rec := allocRecord{}
		kv, err := s.store.Get(ctx, key)
		var rev int64
		switch {
		case errors.Is(err, store.ErrNotFound):
			if err := s.seedAllocations(ctx, key, rec); err != nil {
				return err
			}
		case err != nil:
			return apierrors.NewInternalError(err)
		default:
			rev = kv.Revision
			if err := json.Unmarshal(kv.Value, &rec); err != nil {
				return apierrors.NewInternalError(fmt.Errorf("allocation record %s: %w", key, err))
			}
		}
		if err := fn(rec); err != nil {
			return err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		if rev == 0 {
			_, err = s.store.Create(ctx, key, b)
		} else {
			_, err = s.store.Update(ctx, key, b, rev)
		}
		if errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrConflict) {
			continue // another server allocated meanwhile: re-read and re-apply
		}
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		return nil
	}
	return apierrors.NewConflict(s.servicesRes().GroupVersionResource().GroupResource(), "", errors.New("service allocations changed too often, try again"))
}

// seedAllocations fills a missing record from the services stored.
func (s *Server) seedAllocations(ctx context.Context, key string, rec allocRecord) error {
	objs, _, err := s.listObjects(ctx, s.servicesRes(), "")
	if err != nil {
		return err
	}
	for _, o := range objs {
		svc := o.(*corev1.Service)
		e := allocEntry{Service: svc.Namespace + "/" + svc.Name, UID: svc.UID, Since: s.now()}
		vals := serviceIPsOf(svc)
		if key == nodePortsKey {
			vals = intsToStrings(serviceNodePortsOf(svc))
		}
		for _, v := range vals {
			rec[v] = e
		}
	}
	return nil
}

// servicesRes is the v1 services resource.
func (s *Server) servicesRes() *registry.Resource {
	r, _ := s.resources.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "services"})
	return r
}

// serviceUpdate returns the services of an update of the main resource that allocates (nil
// for anything else).
func (s *Server) serviceUpdate(res *registry.Resource, sub string, obj, old runtime.Object) (svc, oldSvc *corev1.Service) {
	if sub != "" || res != s.servicesRes() {
		return nil, nil
	}
	svc, _ = obj.(*corev1.Service)
	oldSvc, _ = old.(*corev1.Service)
	if svc == nil || oldSvc == nil {
		return nil, nil
	}
	return svc, oldSvc
}

// deleted frees what a service removed from the store held.
func (s *Server) deleted(ctx context.Context, res *registry.Resource, obj runtime.Object) {
	if svc, ok := obj.(*corev1.Service); ok && res == s.servicesRes() {
		s.releaseService(context.WithoutCancel(ctx), svc, nil)
	}
}
