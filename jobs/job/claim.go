package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// claimPods is Kubernetes' PodControllerRefManager.ClaimPods for a Job: of the pods in the
// job's namespace it keeps those it controls and still selects, adopts the orphans it selects
// (unless the job or the pod is being deleted, and only after a read from the API server shows
// the job is still there and not being deleted), and releases the pods it controls but no longer
// selects. It returns the pods the job controls afterwards.
func (c *Controller) claimPods(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	if job.Spec.Selector == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s selector: %w", job.Namespace, job.Name, err)
	}
	if sel.Empty() {
		sel = labels.Nothing()
	}
	all, err := c.pods.Pods(job.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list pods of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	var owned []*corev1.Pod
	var errs []error
	canAdopt := -1 // -1 not asked yet, 0 no, 1 yes
	for _, pod := range all {
		ref := metav1.GetControllerOf(pod)
		match := sel.Matches(labels.Set(pod.Labels))
		switch {
		case ref != nil && ref.UID != job.UID:
			continue // another controller's pod
		case ref != nil && match:
			owned = append(owned, pod)
		case ref != nil:
			if job.DeletionTimestamp == nil {
				errs = append(errs, c.releasePod(ctx, job, pod))
			}
		case !match || job.DeletionTimestamp != nil || pod.DeletionTimestamp != nil:
			continue
		default:
			if canAdopt < 0 {
				canAdopt = c.checkCanAdopt(ctx, job)
			}
			if canAdopt == 0 {
				continue
			}
			adopted, err := c.adoptPod(ctx, job, pod)
			errs = append(errs, err)
			if adopted != nil {
				owned = append(owned, adopted)
			}
		}
	}
	return owned, errors.Join(errs...)
}

// checkCanAdopt asks the API server (not the cache) whether job still exists, is the same
// object and is not being deleted: 1 yes, 0 no.
func (c *Controller) checkCanAdopt(ctx context.Context, job *batchv1.Job) int {
	fresh, err := c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil || fresh.UID != job.UID || fresh.DeletionTimestamp != nil {
		return 0
	}
	return 1
}

type refPatch struct {
	Metadata struct {
		OwnerReferences []map[string]interface{} `json:"ownerReferences"`
		UID             types.UID                `json:"uid"`
	} `json:"metadata"`
}

func (c *Controller) adoptPod(ctx context.Context, job *batchv1.Job, pod *corev1.Pod) (*corev1.Pod, error) {
	var p refPatch
	p.Metadata.UID = pod.UID
	p.Metadata.OwnerReferences = []map[string]interface{}{{
		"apiVersion": jobKind.GroupVersion().String(), "kind": jobKind.Kind, "name": job.Name, "uid": job.UID,
		"controller": true, "blockOwnerDeletion": true,
	}}
	out, err := c.patchPod(ctx, pod, p)
	if apierrors.IsNotFound(err) {
		return nil, nil // gone meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("adopt pod %s: %w", pod.Name, err)
	}
	return out, nil
}

func (c *Controller) releasePod(ctx context.Context, job *batchv1.Job, pod *corev1.Pod) error {
	var p refPatch
	p.Metadata.UID = pod.UID
	p.Metadata.OwnerReferences = []map[string]interface{}{{"$patch": "delete", "uid": job.UID}}
	_, err := c.patchPod(ctx, pod, p)
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil // gone, or changed so that the patch no longer applies
	}
	if err != nil {
		return fmt.Errorf("release pod %s: %w", pod.Name, err)
	}
	return nil
}

// patchPod applies p as a strategic merge patch; the uid in it makes the patch fail rather than
// touch a new pod of the same name.
func (c *Controller) patchPod(ctx context.Context, pod *corev1.Pod, p refPatch) (*corev1.Pod, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
}

// enqueueSelecting queues the jobs of the pod's namespace whose selector matches an orphan
// pod, so that one of them can adopt it (as Kubernetes' Job controller does on pod events).
func (c *Controller) enqueueSelecting(pod *corev1.Pod) {
	jobs, err := c.jobs.Jobs(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, j := range jobs {
		if j.Spec.Selector == nil || finishedCondition(j) != nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		c.queue.Add(pod.Namespace + "/" + j.Name)
	}
}
