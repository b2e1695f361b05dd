package app

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// waitForRollout waits, printing each new progress line, until the StatefulSet jenkins has
// rolled out as `kubectl rollout status` and `helm --wait` judge it: the controller has seen its
// newest spec, every replica runs the update revision and is Ready, and the current revision is
// the update revision. After timeout it fails with the pod's state, its last termination and
// the newest Warning event of the pod or the set.
func waitForRollout(ctx context.Context, kube kubernetes.Interface, ns string, timeout time.Duration, s Streams) error {
	last := ""
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		line, done, err := rolloutProgress(ctx, kube, ns)
		if err != nil && ending(ctx) {
			// The wait is ending: a request it cut short, or that client-go's rate limiter
			// refused because it could not finish in time, says nothing about Jenkins.
			return false, nil
		}
		if line != last {
			fmt.Fprintln(s.Out, line)
			last = line
		}
		return done, nil
	})
	if err != nil {
		if ctx.Err() != nil && !strings.Contains(ctx.Err().Error(), "deadline") {
			return ctx.Err()
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return fmt.Errorf("the Jenkins StatefulSet has not rolled out after %s (last: %s)%s\n  fix the cause and run install again: the StatefulSet replaces the pod",
			timeout, last, rolloutDiagnosis(dctx, kube, ns))
	}
	fmt.Fprintln(s.Out, "Jenkins is up; `drover jenkins status` shows the cloud provider once it has connected.")
	return nil
}

// ending reports whether ctx is done or has less than a poll interval left: client-go's rate
// limiter refuses a request it cannot start before the deadline while ctx.Err() is still nil.
func ending(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) < time.Second
}

// rolloutProgress is one line on the rollout, whether it is complete, and the error of a
// request that failed (the line then says so).
func rolloutProgress(ctx context.Context, kube kubernetes.Interface, ns string) (string, bool, error) {
	sts, err := kube.AppsV1().StatefulSets(ns).Get(ctx, jenkinsSet, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "waiting for statefulset/" + jenkinsSet + " to be created", false, nil
	}
	if err != nil {
		return "waiting: " + err.Error(), false, err
	}
	replicas := int32(1)
	if sts.Spec.Replicas != nil {
		replicas = *sts.Spec.Replicas
	}
	st := sts.Status
	pod := ""
	p, perr := kube.CoreV1().Pods(ns).Get(ctx, jenkinsSet+"-0", metav1.GetOptions{})
	switch {
	case perr == nil:
		pod = fmt.Sprintf("; pod %s: %s", p.Name, podProgress(p))
	case apierrors.IsNotFound(perr):
		pod, perr = "; no pod yet", nil
	}
	switch {
	case st.ObservedGeneration < sts.Generation:
		return fmt.Sprintf("statefulset/%s: waiting for the controller to see generation %d%s", sts.Name, sts.Generation, pod), false, perr
	case st.UpdatedReplicas < replicas:
		return fmt.Sprintf("statefulset/%s: %d of %d pods updated to revision %s%s", sts.Name, st.UpdatedReplicas, replicas, st.UpdateRevision, pod), false, perr
	case st.ReadyReplicas < replicas:
		return fmt.Sprintf("statefulset/%s: %d of %d pods ready%s", sts.Name, st.ReadyReplicas, replicas, pod), false, perr
	case sts.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType && st.CurrentRevision != st.UpdateRevision:
		return fmt.Sprintf("statefulset/%s: finishing the update to revision %s%s", sts.Name, st.UpdateRevision, pod), false, perr
	}
	return fmt.Sprintf("statefulset/%s rolled out: revision %s, %d of %d pods ready%s", sts.Name, st.CurrentRevision, st.ReadyReplicas, replicas, pod), true, nil
}

// podProgress is the phase, readiness and the first waiting reason (ContainerCreating, ErrImagePull, …).
func podProgress(p *corev1.Pod) string {
	phase := string(p.Status.Phase)
	if phase == "" {
		phase = "Pending"
	}
	if p.DeletionTimestamp != nil {
		return phase + " (terminating)"
	}
	if p.Spec.NodeName == "" {
		return phase + " (not scheduled yet)"
	}
	for _, cs := range allStatuses(p) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return fmt.Sprintf("%s (%s: %s)", phase, cs.Name, w.Reason)
		}
	}
	if phase == string(corev1.PodRunning) {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return "Running, Ready"
			}
		}
		return "Running, not ready"
	}
	return phase
}

func allStatuses(p *corev1.Pod) []corev1.ContainerStatus {
	return append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
}

// rolloutDiagnosis says why a rollout did not finish: the pod's containers that are not
// running (with their waiting message), their last termination, and the newest Warning event
// about the pod or the set ("" when there is nothing to add).
func rolloutDiagnosis(ctx context.Context, kube kubernetes.Interface, ns string) string {
	var parts []string
	name := jenkinsSet + "-0"
	if p, err := kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
		for _, cs := range allStatuses(p) {
			if st := containerState(cs.State); st != "" && cs.State.Running == nil {
				parts = append(parts, fmt.Sprintf("pod %s container %s: %s", name, cs.Name, st))
			}
			if lt := cs.LastTerminationState.Terminated; lt != nil {
				parts = append(parts, fmt.Sprintf("pod %s container %s last state: %s", name, cs.Name, containerState(cs.LastTerminationState)))
			}
		}
	}
	if ev := newestWarning(ctx, kube, ns, name, jenkinsSet); ev != nil {
		parts = append(parts, fmt.Sprintf("newest warning event (%s %s): %s: %s", strings.ToLower(ev.InvolvedObject.Kind),
			ev.InvolvedObject.Name, ev.Reason, strings.TrimSpace(ev.Message)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "\n  " + strings.Join(parts, "\n  ")
}

// containerState describes a waiting or terminated state ("" for running or none).
func containerState(s corev1.ContainerState) string {
	switch {
	case s.Waiting != nil:
		if s.Waiting.Message != "" {
			return fmt.Sprintf("waiting (%s): %s", s.Waiting.Reason, s.Waiting.Message)
		}
		return fmt.Sprintf("waiting (%s)", s.Waiting.Reason)
	case s.Terminated != nil:
		t := s.Terminated
		out := fmt.Sprintf("terminated (%s, exit code %d", t.Reason, t.ExitCode)
		if !t.FinishedAt.IsZero() {
			out += " at " + t.FinishedAt.UTC().Format(time.RFC3339)
		}
		out += ")"
		if m := strings.TrimSpace(t.Message); m != "" {
			out += ": " + m
		}
		return out
	}
	return ""
}

// newestWarning is the newest Warning event in ns about one of the named objects (nil if none).
func newestWarning(ctx context.Context, kube kubernetes.Interface, ns string, names ...string) *corev1.Event {
	var all []corev1.Event
	for _, n := range names {
		evs, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
			FieldSelector: fields.Set{"involvedObject.name": n, "type": corev1.EventTypeWarning}.String()})
		if err != nil {
			continue
		}
		for _, e := range evs.Items {
			if e.Type == corev1.EventTypeWarning && e.InvolvedObject.Name == n {
				all = append(all, e)
			}
		}
	}
	if len(all) == 0 {
		return nil
	}
	sort.SliceStable(all, func(i, j int) bool { return eventTime(all[i]).Before(eventTime(all[j])) })
	return &all[len(all)-1]
}
