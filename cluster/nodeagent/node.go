package nodeagent

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/drover-ci/drover/cluster/container"
)

// Version is what the Node reports as its kubelet version.
var Version = "v1.32.0-drover"

const leaseNamespace = "kube-node-lease"

// registerNode creates the Node or refreshes its labels, addresses and capacity.
func (a *Agent) registerNode(ctx context.Context) error {
	info, err := a.cfg.Runtime.Info(ctx)
	if err != nil {
		return fmt.Errorf("container runtime: %w", err)
	}
	a.hostIP = a.cfg.NodeIP
	if a.hostIP == "" {
		a.hostIP = defaultIP()
	}
	node, err := a.ensureNode(ctx)
	if err != nil {
		return err
	}
	// The nodeipam controller may give the new Node its podCIDR meanwhile: retry on conflict.
	nodes := a.cfg.Client.CoreV1().Nodes()
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		// A host-gw node has no pod network until it has its podCIDR: Ready only after
		// setupNetwork (the heartbeat posts it), so nothing is scheduled here meanwhile.
		node.Status = a.nodeStatus(node, info, !a.cfg.HostGW, "network not ready: waiting for the Node's spec.podCIDR")
		updated, uerr := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		if uerr == nil {
			node = updated
		}
		if apierrors.IsConflict(uerr) {
			if fresh, gerr := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{}); gerr == nil {
				node = fresh
			}
		}
		return uerr
	})
	if err != nil {
		return fmt.Errorf("update node status: %w", err)
	}
	now := a.cfg.Clock.Now()
	a.hb.node, a.hb.postedReady, a.hb.lastPost, a.hb.lastCheck = node, !a.cfg.HostGW, now, now
	a.log.Info("node registered", "ip", a.hostIP, "runtime", info.RuntimeName+"://"+info.EngineVersion)
	return nil
}

// ensureNode creates the Node, or sets the labels of the existing one (retrying on conflict).
func (a *Agent) ensureNode(ctx context.Context) (*corev1.Node, error) {
	nodes := a.cfg.Client.CoreV1().Nodes()
	node, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		node = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName}}
		if a.cfg.PodCIDR != "" {
			node.Spec.PodCIDR, node.Spec.PodCIDRs = a.cfg.PodCIDR, []string{a.cfg.PodCIDR}
		}
		a.setNodeMeta(node)
		if node, err = nodes.Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("register node %s: %w", a.cfg.NodeName, err)
		}
		return node, nil
	case err != nil:
		return nil, fmt.Errorf("get node %s: %w", a.cfg.NodeName, err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		a.setNodeMeta(node)
		updated, uerr := nodes.Update(ctx, node, metav1.UpdateOptions{})
		if apierrors.IsConflict(uerr) {
			if fresh, gerr := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{}); gerr == nil {
				node = fresh
			}
		} else if uerr == nil {
			node = updated
		}
		return uerr
	})
	if err != nil {
		return nil, fmt.Errorf("update node %s: %w", a.cfg.NodeName, err)
	}
	return node, nil
}

func (a *Agent) setNodeMeta(node *corev1.Node) {
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	node.Labels["kubernetes.io/hostname"] = a.cfg.NodeName
	node.Labels["kubernetes.io/os"] = runtime.GOOS
	node.Labels["kubernetes.io/arch"] = runtime.GOARCH
	for k, v := range a.cfg.Labels {
		node.Labels[k] = v
	}
}

// nodeStatus is the Node's status: capacity from the host, addresses, and the Ready condition.
func (a *Agent) nodeStatus(node *corev1.Node, info container.Info, ready bool, why string) corev1.NodeStatus {
	st := node.Status
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(info.CPUs), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(info.MemoryBytes, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(int64(a.cfg.MaxPods), resource.DecimalSI),
	}
	st.Capacity, st.Allocatable = capacity, capacity.DeepCopy()
	a.mu.Lock()
	a.nodeAllocatable = st.Allocatable.DeepCopy()
	a.mu.Unlock()
	st.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: a.cfg.NodeName}}
	if a.hostIP != "" {
		st.Addresses = append([]corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: a.hostIP}}, st.Addresses...)
	}
	st.DaemonEndpoints.KubeletEndpoint.Port = int32(a.cfg.Port)
	st.NodeInfo = corev1.NodeSystemInfo{
		KernelVersion: info.KernelVersion, OSImage: info.OS, Architecture: info.Architecture,
		OperatingSystem: "linux", ContainerRuntimeVersion: info.RuntimeName + "://" + info.EngineVersion,
		KubeletVersion: Version, KubeProxyVersion: Version, MachineID: a.cfg.NodeName, SystemUUID: a.cfg.NodeName, BootID: a.cfg.NodeName,
	}
	now := metav1.NewTime(a.cfg.Clock.Now())
	set := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) {
		for i := range st.Conditions {
			if st.Conditions[i].Type == t {
				c := &st.Conditions[i]
				if c.Status != s {
					c.LastTransitionTime = now
				}
				c.Status, c.Reason, c.Message, c.LastHeartbeatTime = s, reason, msg, now
				return
			}
		}
		st.Conditions = append(st.Conditions, corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now})
	}
	set(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "node agent has sufficient memory available")
	set(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "node agent has no disk pressure")
	set(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "node agent has sufficient PID available")
	if ready {
		set(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "drover node agent is posting ready status")
	} else {
		set(corev1.NodeReady, corev1.ConditionFalse, "KubeletNotReady", why)
	}
	return st
}

// heartbeat renews the Lease every cfg.Heartbeat (the node's liveness, which nodelifecycle
// reads) and posts the node status only when it has news, as the kubelet does with Leases:
// when readiness changes, every cfg.StatusReportFrequency, after renewals failed for a while
// (the node controller may have marked the Node Unknown meanwhile), or when the Node, read
// once every statusCheckPeriod, reports another readiness.
func (a *Agent) heartbeat(ctx context.Context) {
	t := a.cfg.Clock.NewTicker(a.cfg.Heartbeat)
	defer t.Stop()
	for {
		a.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// statusCheckPeriod is how often the heartbeat reads its Node to see whether someone else (the
// node controller) changed its Ready condition.
const statusCheckPeriod = time.Minute

// beat is one heartbeat: one Lease update, and a Node status post only when there is news.
func (a *Agent) beat(ctx context.Context) {
	prev := a.hb.lastRenew
	renewed := a.renewLease(ctx)
	now := a.cfg.Clock.Now()
	// A renewal after a gap: the Lease may have looked stale to the node controller.
	gap := renewed && !prev.IsZero() && now.Sub(prev) > 2*a.cfg.Heartbeat
	if renewed {
		a.hb.lastRenew = now
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	info, err := a.cfg.Runtime.Info(cctx)
	cancel()
	ready := err == nil
	post := ready != a.hb.postedReady || now.Sub(a.hb.lastPost) >= a.cfg.StatusReportFrequency || gap
	if !post && now.Sub(a.hb.lastCheck) >= statusCheckPeriod {
		a.hb.lastCheck = now
		post = a.reportedReadyDiffers(ctx, ready)
	}
	if !post {
		return
	}
	why := ""
	if err != nil {
		why = "container runtime is down: " + err.Error()
	}
	if perr := a.postNodeStatus(ctx, info, ready, why); perr != nil {
		a.log.Warn("post node status", "err", perr)
		return
	}
	a.hb.postedReady, a.hb.lastPost, a.hb.lastCheck = ready, now, now
}

// reportedReadyDiffers reports whether the Node's Ready condition says otherwise than ready
// (e.g. the node controller marked it Unknown while this agent was away). The Node read
// becomes the one the next status post updates.
func (a *Agent) reportedReadyDiffers(ctx context.Context, ready bool) bool {
	node, err := a.heartbeatClient().CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{ResourceVersion: "0"})
	if err != nil {
		return false
	}
	a.hb.node = node
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return (c.Status == corev1.ConditionTrue) != ready
		}
	}
	return true
}

// postNodeStatus updates the status of the Node last read or written (no read first); it
// reads the Node only when that update conflicts.
func (a *Agent) postNodeStatus(ctx context.Context, info container.Info, ready bool, why string) error {
	nodes := a.heartbeatClient().CoreV1().Nodes()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node := a.hb.node
		if node == nil {
			fresh, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			node = fresh
		}
		node = node.DeepCopy()
		inf := info
		if !ready {
			inf = a.lastInfo(node)
		}
		node.Status = a.nodeStatus(node, inf, ready, why)
		updated, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		switch {
		case err == nil:
			a.hb.node = updated
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			a.hb.node = nil
		}
		return err
	})
}

// lastInfo keeps the reported capacity while the runtime cannot be asked.
func (a *Agent) lastInfo(node *corev1.Node) container.Info {
	return container.Info{CPUs: int(node.Status.Capacity.Cpu().Value()), MemoryBytes: node.Status.Capacity.Memory().Value(),
		KernelVersion: node.Status.NodeInfo.KernelVersion, OS: node.Status.NodeInfo.OSImage, Architecture: node.Status.NodeInfo.Architecture}
}

// heartbeatClient is the client of the heartbeat's requests: Config.HeartbeatClient, else
// Config.Client.
func (a *Agent) heartbeatClient() kubernetes.Interface {
	if a.cfg.HeartbeatClient != nil {
		return a.cfg.HeartbeatClient
	}
	return a.cfg.Client
}

// heartbeatState is what the heartbeat keeps between beats (only its goroutine, and
// registerNode before it, touch it).
type heartbeatState struct {
	lease       *coordinationv1.Lease // as last written or read
	node        *corev1.Node          // as last written or read
	lastRenew   time.Time             // last successful Lease renewal
	lastPost    time.Time             // last status post
	lastCheck   time.Time             // last Node read or post
	postedReady bool                  // readiness last posted
}

// renewLease creates or renews the node's Lease in kube-node-lease. As the kubelet's lease
// controller, it updates the Lease it last wrote (one request per renewal) and reads it only
// when there is none yet or that update conflicts or finds none. It reports success.
func (a *Agent) renewLease(ctx context.Context) bool {
	leases := a.heartbeatClient().CoordinationV1().Leases(leaseNamespace)
	now := metav1.NewMicroTime(a.cfg.Clock.Now())
	secs := int32(a.cfg.LeaseDuration / time.Second)
	holder := a.cfg.NodeName
	for attempt := 0; attempt < 2; attempt++ {
		if a.hb.lease == nil {
			lease, err := leases.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Namespace: leaseNamespace},
					Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &now}}
				if node := a.hb.node; node != nil && node.UID != "" {
					lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
				}
				created, cerr := leases.Create(ctx, lease, metav1.CreateOptions{})
				if cerr != nil {
					a.log.Warn("create lease", "err", cerr)
					return false
				}
				a.hb.lease = created
				return true
			}
			if err != nil {
				a.log.Warn("get lease", "err", err)
				return false
			}
			a.hb.lease = lease
		}
		lease := a.hb.lease.DeepCopy()
		lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds, lease.Spec.RenewTime = &holder, &secs, &now
		updated, err := leases.Update(ctx, lease, metav1.UpdateOptions{})
		if err == nil {
			a.hb.lease = updated
			return true
		}
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			a.log.Warn("renew lease", "err", err)
			return false
		}
		a.hb.lease = nil // someone else wrote or deleted it: read it again
	}
	a.log.Warn("renew lease: conflicts")
	return false
}

// defaultIP is the first non-loopback IPv4 address of an interface that is up.
func defaultIP() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 || bridgeName(iface.Name) {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLinkLocalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	return ""
}

// bridgeName reports container bridges and veths, which are never the node's address.
func bridgeName(n string) bool {
	for _, p := range []string{"docker", "br-", "veth", "drover", "cni", "flannel"} {
		if len(n) >= len(p) && n[:len(p)] == p {
			return true
		}
	}
	return false
}
