package job

import (
	"fmt"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// policyMatch is what a job's podFailurePolicy makes of one failed pod: the action of the first
// rule it matches (empty: none matched, the failure counts) and, for FailJob, the message the
// job fails with (Kubernetes' texts).
type policyMatch struct {
	action  batchv1.PodFailurePolicyAction
	message string
}

// counts reports whether the failure counts towards backoffLimit: all but an Ignore match do.
func (m policyMatch) counts() bool { return m.action != batchv1.PodFailurePolicyActionIgnore }

// matchPolicy evaluates the rules in order against a failed pod, as Kubernetes'
// matchPodFailurePolicy does: onExitCodes looks at the terminated containers (then the init
// containers) with a non-zero exit code, onPodConditions at the pod's conditions. FailIndex
// (valid with backoffLimitPerIndex only) fails the pod's index.
func matchPolicy(policy *batchv1.PodFailurePolicy, pod *corev1.Pod) policyMatch {
	if policy == nil {
		return policyMatch{}
	}
	for i, rule := range policy.Rules {
		var detail string
		switch {
		case rule.OnExitCodes != nil:
			cs := matchExitCodes(pod, rule.OnExitCodes)
			if cs == nil {
				continue
			}
			detail = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d", cs.Name, pod.Namespace, pod.Name, cs.State.Terminated.ExitCode)
		case len(rule.OnPodConditions) > 0:
			c := matchConditions(pod, rule.OnPodConditions)
			if c == nil {
				continue
			}
			detail = fmt.Sprintf("Pod %s/%s has condition %s", pod.Namespace, pod.Name, c.Type)
		default:
			continue
		}
		switch rule.Action {
		case batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex:
			return policyMatch{action: rule.Action}
		case batchv1.PodFailurePolicyActionFailJob:
			return policyMatch{action: rule.Action, message: fmt.Sprintf("%s matching %s rule at index %d", detail, rule.Action, i)}
		}
	}
	return policyMatch{}
}

// matchExitCodes is the first terminated container, then init container, whose non-zero exit
// code meets req.
func matchExitCodes(pod *corev1.Pod, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for i := range list {
			cs := &list[i]
			term := cs.State.Terminated
			if term == nil || term.ExitCode == 0 || (req.ContainerName != nil && *req.ContainerName != cs.Name) {
				continue
			}
			in := slices.Contains(req.Values, term.ExitCode)
			if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && in) ||
				(req.Operator == batchv1.PodFailurePolicyOnExitCodesOpNotIn && !in) {
				return cs
			}
		}
	}
	return nil
}

// matchConditions is the first pod condition whose type and status a pattern names.
func matchConditions(pod *corev1.Pod, patterns []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i, c := range pod.Status.Conditions {
		for _, p := range patterns {
			if c.Type == p.Type && c.Status == p.Status {
				return &pod.Status.Conditions[i]
			}
		}
	}
	return nil
}

// failJobMessage is the message of the first failed pod (oldest failure first) that matches a
// FailJob rule, or "".
func failJobMessage(job *batchv1.Job, failed []*corev1.Pod) string {
	if job.Spec.PodFailurePolicy == nil {
		return ""
	}
	for _, p := range byFinish(failed) {
		if m := matchPolicy(job.Spec.PodFailurePolicy, p); m.action == batchv1.PodFailurePolicyActionFailJob {
			return m.message
		}
	}
	return ""
}

// countedFailures are the failed pods that count towards backoffLimit and status.failed: those
// no Ignore rule matches.
func countedFailures(job *batchv1.Job, failed []*corev1.Pod) []*corev1.Pod {
	if job.Spec.PodFailurePolicy == nil {
		return failed
	}
	var out []*corev1.Pod
	for _, p := range failed {
		if matchPolicy(job.Spec.PodFailurePolicy, p).counts() {
			out = append(out, p)
		}
	}
	return out
}

// onlyReplaceFailed is Kubernetes' onlyReplaceFailedPods: with podReplacementPolicy Failed
// (the default with a podFailurePolicy) a pod being deleted is replaced only once it has
// failed, so a terminating pod still holds its place.
func onlyReplaceFailed(job *batchv1.Job) bool {
	return job.Spec.PodFailurePolicy != nil ||
		(job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed)
}

// byFinish orders pods by the time they finished, then by name.
func byFinish(pods []*corev1.Pod) []*corev1.Pod {
	out := slices.Clone(pods)
	slices.SortStableFunc(out, func(a, b *corev1.Pod) int {
		if c := finishTime(a).Compare(finishTime(b)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}
