package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// EventRecorder is the recorder of component's events: c.Recorder's, or one that drops them
// when c has none.
func (c Context) EventRecorder(component string) record.EventRecorder {
	if c.Recorder == nil {
		return &record.FakeRecorder{}
	}
	return c.Recorder(component)
}

// ClockOrReal is c.Clock, or the real clock when c has none.
func (c Context) ClockOrReal() clock.WithTicker {
	if c.Clock == nil {
		return clock.RealClock{}
	}
	return c.Clock
}

// PodFromTemplate is the pod a controller creates from template for owner (Kubernetes'
// GetPodFromTemplate): copies of the template's labels, annotations, finalizers and spec,
// generateName "<owner>-", owner's namespace and a controller reference to owner, of kind.
func PodFromTemplate(template *corev1.PodTemplateSpec, owner metav1.Object, kind schema.GroupVersionKind) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    owner.GetName() + "-",
			Namespace:       owner.GetNamespace(),
			Labels:          maps.Clone(template.Labels),
			Annotations:     maps.Clone(template.Annotations),
			Finalizers:      slices.Clone(template.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, kind)},
		},
		Spec: *template.Spec.DeepCopy(),
	}
}

// PodKey is the key Expectations track a pod deletion by: namespace/name.
func PodKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// DeletedPod is the pod an informer's delete handler got, unwrapping a
// cache.DeletedFinalStateUnknown tombstone; ok is false when obj holds no pod.
func DeletedPod(obj interface{}) (pod *corev1.Pod, ok bool) {
	if tomb, isTomb := obj.(cache.DeletedFinalStateUnknown); isTomb {
		obj = tomb.Obj
	}
	pod, ok = obj.(*corev1.Pod)
	return pod, ok
}

// DeletePods deletes victims, the pods of owner (whose controller key is key), in parallel;
// their deletion must already be expected in exp. A delete that fails, or finds the pod gone
// (no informer event will come), is no longer expected. Each deletion and failure is recorded
// as an event of owner; the result joins the failures.
func DeletePods(ctx context.Context, client kubernetes.Interface, exp *Expectations, recorder record.EventRecorder,
	key string, owner runtime.Object, victims []*corev1.Pod) error {
	var wg sync.WaitGroup
	errs := make([]error, len(victims))
	for i, pod := range victims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
			switch {
			case apierrors.IsNotFound(err):
				exp.DeletionObserved(key, PodKey(pod)) // already gone: no event will come
			case err != nil:
				exp.DeletionObserved(key, PodKey(pod))
				recorder.Eventf(owner, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				errs[i] = fmt.Errorf("delete pod %s: %w", pod.Name, err)
			default:
				recorder.Eventf(owner, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", pod.Name)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
