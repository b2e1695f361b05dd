package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// Requests the scheduler assumes for a container that asks for none when it scores nodes
// (Kubernetes' DefaultMilliCPURequest and DefaultMemoryRequest). Filters use the real requests.
const (
	defaultMilliCPU = 100
	defaultMemory   = 200 * 1024 * 1024
)

// requests are a pod's cpu (millicores) and memory (bytes) requests.
type requests struct {
	cpu, mem int64
}

func (r requests) add(o requests) requests { return requests{r.cpu + o.cpu, r.mem + o.mem} }

func (r requests) max(o requests) requests { return requests{max(r.cpu, o.cpu), max(r.mem, o.mem)} }

// podRequests is what a pod asks of a node, as Kubernetes computes it: the sum over its
// containers and sidecars (init containers with restartPolicy Always), raised to the largest
// request of a regular init container (plus the sidecars started before it), plus the pod's
// overhead. nonZero gives containers without a request the scheduler's default (for scoring).
func podRequests(pod *corev1.Pod, nonZero bool) requests {
	var sum, sidecars, initMax requests
	for i := range pod.Spec.Containers {
		sum = sum.add(containerRequests(&pod.Spec.Containers[i], nonZero))
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := containerRequests(c, nonZero)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars = sidecars.add(r)
			initMax = initMax.max(sidecars)
			continue
		}
		initMax = initMax.max(sidecars.add(r))
	}
	total := sum.add(sidecars).max(initMax)
	if pod.Spec.Overhead != nil {
		total = total.add(listRequests(pod.Spec.Overhead))
	}
	return total
}

func containerRequests(c *corev1.Container, nonZero bool) requests {
	r := listRequests(c.Resources.Requests)
	if nonZero {
		if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
			r.cpu = defaultMilliCPU
		}
		if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
			r.mem = defaultMemory
		}
	}
	return r
}

func listRequests(l corev1.ResourceList) requests {
	var r requests
	if q, ok := l[corev1.ResourceCPU]; ok {
		r.cpu = q.MilliValue()
	}
	if q, ok := l[corev1.ResourceMemory]; ok {
		r.mem = q.Value()
	}
	return r
}

// hostPort is one host port a pod binds: protocol, port and host IP ("0.0.0.0" for all).
type hostPort struct {
	protocol corev1.Protocol
	port     int32
	ip       string
}

const wildcardIP = "0.0.0.0"

// podHostPorts lists the host ports of a pod's containers (defaults filled: TCP, 0.0.0.0).
func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []corev1.Container) {
		for i := range cs {
			for _, p := range cs[i].Ports {
				if p.HostPort <= 0 {
					continue
				}
				hp := hostPort{protocol: p.Protocol, port: p.HostPort, ip: p.HostIP}
				if hp.protocol == "" {
					hp.protocol = corev1.ProtocolTCP
				}
				if hp.ip == "" || hp.ip == "::" {
					hp.ip = wildcardIP
				}
				out = append(out, hp)
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	return out
}

// controllerUID is the uid of the pod's controlling owner, "" when it has none.
func controllerUID(pod *corev1.Pod) string {
	for _, o := range pod.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return string(o.UID)
		}
	}
	return ""
}

// podKey identifies a pod in the snapshot: its uid, or namespace/name when it has none.
func podKey(pod *corev1.Pod) string {
	if pod.UID != "" {
		return string(pod.UID)
	}
	return pod.Namespace + "/" + pod.Name
}
