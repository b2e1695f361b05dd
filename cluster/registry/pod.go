package registry

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podResource describes the pods resource.
func podResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "pods", Kind: "Pod", SingularName: "pod",
		ShortNames: []string{"po"}, Categories: []string{"all"}, Namespaced: true,
		Subresources: []string{"status", "binding", "log", "eviction", "exec", "attach", "portforward", "proxy", "ephemeralcontainers"}, HasStatus: true,
		New:              func() runtime.Object { return &corev1.Pod{} },
		NewList:          func() runtime.Object { return &corev1.PodList{} },
		Default:          func(obj runtime.Object) { podDefault(obj.(*corev1.Pod)) },
		PrepareForCreate: func(obj runtime.Object) { podPrepareForCreate(obj.(*corev1.Pod)) },
		PrepareForUpdate: func(obj, old runtime.Object) { podPrepareForUpdate(obj.(*corev1.Pod), old.(*corev1.Pod)) },
		Validate:         func(obj runtime.Object) field.ErrorList { return podValidate(obj.(*corev1.Pod)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return podValidateUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
		ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
			return podValidateStatusUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
		PrepareForSubresourceUpdate: func(sub string, obj, old runtime.Object) {
			podPrepareForSubresourceUpdate(sub, obj.(*corev1.Pod), old.(*corev1.Pod))
		},
		ValidateSubresourceUpdate: func(sub string, obj, old runtime.Object) field.ErrorList {
			if sub != "ephemeralcontainers" {
				return nil
			}
			return podValidateEphemeralContainersUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
		},
		Fields: func(obj runtime.Object) fields.Set { return podFields(obj.(*corev1.Pod)) },
		Table:  podTable(),
	}
}

// podDefault applies the v1 defaults of a pod: its spec, and the status mirror fields the v1
// conversion keeps in step (podIPs wins over podIP, as in Kubernetes' conversion).
func podDefault(pod *corev1.Pod) {
	podSpecDefault(&pod.Spec)
	st := &pod.Status
	if len(st.PodIPs) > 0 {
		st.PodIP = st.PodIPs[0].IP
	} else if st.PodIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	if len(st.HostIPs) > 0 {
		st.HostIP = st.HostIPs[0].IP
	} else if st.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	}
}

// podPrepareForCreate resets the status to Pending with the computed QoS class, and marks a
// pod with scheduling gates as not schedulable yet, as Kubernetes' pod strategy does.
func podPrepareForCreate(pod *corev1.Pod) {
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: podQOSClass(&pod.Spec)}
	if len(pod.Spec.SchedulingGates) > 0 {
		pod.Status.Conditions = []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonSchedulingGated, Message: "Scheduling is blocked due to non-empty scheduling gates",
		}}
	}
}

// podPrepareForUpdate keeps spec.nodeName: a pod is bound only through pods/binding.
func podPrepareForUpdate(pod, old *corev1.Pod) {
	pod.Spec.NodeName = old.Spec.NodeName
}

// podValidate is Kubernetes' ValidatePodCreate for the spec (metadata is checked by the server).
func podValidate(pod *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	errs := podSpecValidate(&pod.Spec, specPath)
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	return errs
}

// podFields are the pod fields selectors may use.
func podFields(pod *corev1.Pod) fields.Set {
	podIP := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	return fields.Set{
		"spec.nodeName":            pod.Spec.NodeName,
		"spec.restartPolicy":       string(pod.Spec.RestartPolicy),
		"spec.schedulerName":       pod.Spec.SchedulerName,
		"spec.serviceAccountName":  pod.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(pod.Spec.HostNetwork),
		"status.phase":             string(pod.Status.Phase),
		"status.podIP":             podIP,
		"status.nominatedNodeName": pod.Status.NominatedNodeName,
	}
}

// podPrepareForSubresourceUpdate: pods/status keeps the stored ownerReferences (Kubernetes'
// podStatusStrategy: old kubelets corrupted them); pods/ephemeralcontainers changes only the
// ephemeral containers.
func podPrepareForSubresourceUpdate(sub string, pod, old *corev1.Pod) {
	switch sub {
	case "status":
		pod.OwnerReferences = old.OwnerReferences
	case "ephemeralcontainers":
		podPrepareForEphemeralContainers(pod, old)
	}
}
