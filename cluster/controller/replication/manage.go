package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover-ci/drover/cluster/controller"
)

// manageReplicas creates or deletes pods so that the controller owns spec.replicas active pods,
// at most BurstReplicas per sync, recording expectations before acting.
func (c *Controller) manageReplicas(ctx context.Context, key string, rc *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	diff := len(pods) - int(replicasOf(rc))
	switch {
	case diff < 0:
		n := min(-diff, BurstReplicas)
		c.exp.Expect(key, n, nil)
		created, err := slowStartBatch(n, 1, func() error { return c.createPod(ctx, rc) })
		// Creates that failed or were not tried will never be observed.
		for i := created; i < n; i++ {
			c.exp.CreationObserved(key)
		}
		return err
	case diff > 0:
		victims := podsToDelete(pods, min(diff, BurstReplicas))
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = podKey(p)
		}
		c.exp.Expect(key, 0, keys)
		return controller.DeletePods(ctx, c.client, c.exp, c.recorder, key, c.kind.object(rc), victims)
	}
	return nil
}

// createPod creates one pod from the controller's template.
func (c *Controller) createPod(ctx context.Context, rc *appsv1.ReplicaSet) error {
	pod, err := podFromTemplate(rc, c.kind.gvk())
	if err == nil {
		pod, err = c.client.CoreV1().Pods(rc.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	}
	if err != nil {
		c.recorder.Eventf(c.kind.object(rc), corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return fmt.Errorf("create pod for %s/%s: %w", rc.Namespace, rc.Name, err)
	}
	c.recorder.Eventf(c.kind.object(rc), corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
	return nil
}

// podFromTemplate is the pod a controller creates: the template (its labels, pod-template-hash
// included when a Deployment set it) with generateName "<owner>-" and a controller reference
// (blockOwnerDeletion) to the owner of kind gvk (Kubernetes' GetPodFromTemplate).
func podFromTemplate(rc *appsv1.ReplicaSet, gvk schema.GroupVersionKind) (*corev1.Pod, error) {
	t := &rc.Spec.Template
	if len(t.Labels) == 0 {
		return nil, errors.New("unable to create pods, no labels")
	}
	return controller.PodFromTemplate(t, rc, gvk), nil
}

// slowStartBatch calls fn count times in batches of 1, 2, 4, ... (starting at initial), all of a
// batch in parallel, and stops after a batch with a failure. It returns how many calls succeeded.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errCh := make(chan error, batch)
		var wg sync.WaitGroup
		for i := 0; i < batch; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					errCh <- err
				}
			}()
		}
		wg.Wait()
		successes += batch - len(errCh)
		if len(errCh) > 0 {
			return successes, <-errCh
		}
		remaining -= batch
	}
	return successes, nil
}
