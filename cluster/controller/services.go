package controller

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// PodReady reports whether the pod's Ready condition is True (Kubernetes' podutil.IsPodReady).
func PodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// FindServicePort is Kubernetes' podutil.FindPort: the pod port a service port's targetPort
// names — a number as is (the service port when unset), a name through the pod's container
// ports of the same protocol (an unset protocol is TCP).
func FindServicePort(pod *corev1.Pod, sp corev1.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	switch {
	case tp.Type == intstr.Int && tp.IntVal == 0:
		return sp.Port, true
	case tp.Type == intstr.Int:
		return tp.IntVal, true
	}
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			pp := p.Protocol
			if pp == "" {
				pp = corev1.ProtocolTCP
			}
			if p.Name == tp.StrVal && pp == proto {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

// ServicesSelecting are the keys (namespace/name) of the services in a pod's namespace whose
// selector matches it; obj is a pod or its tombstone (the pod event handlers of the endpoints
// and EndpointSlice controllers).
func ServicesSelecting(services corelisters.ServiceLister, obj interface{}) []string {
	pod, ok := DeletedPod(obj)
	if !ok {
		return nil
	}
	svcs, err := services.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var keys []string
	for _, s := range svcs {
		if s.Spec.Selector != nil && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			keys = append(keys, pod.Namespace+"/"+s.Name)
		}
	}
	return keys
}
