package app

import (
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// imageUpdate describes a rolling update to a new image of one container.
type imageUpdate struct {
	image, container, pullPolicy string
	deploymentKey                string
}

// newControllerFromImage derives the next controller from the current one as kubectl 1.x did:
// the container's image replaced, named OLD-<hash>, and the hash as value of the deployment
// key in selector and template labels.
func newControllerFromImage(oldRc *corev1.ReplicationController, u imageUpdate) (*corev1.ReplicationController, error) {
	newRc := oldRc.DeepCopy()
	containers := newRc.Spec.Template.Spec.Containers
	if len(containers) == 0 {
		return nil, fmt.Errorf("pod template of %s has no containers", oldRc.Name)
	}
	idx := 0
	if u.container != "" {
		idx = -1
		for i, c := range containers {
			if c.Name == u.container {
				idx = i
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("couldn't find container named %s in %s", u.container, oldRc.Name)
		}
	} else if len(containers) > 1 {
		return nil, errors.New("must specify container to update when updating a multi-container pod")
	}
	if containers[idx].Image == u.image && u.pullPolicy == "" {
		return nil, errors.New("--image-pull-policy (Always|Never|IfNotPresent) must be provided when --image is the same as existing container image")
	}
	containers[idx].Image = u.image
	if u.pullPolicy != "" {
		containers[idx].ImagePullPolicy = corev1.PullPolicy(u.pullPolicy)
	}
	hash, err := hashObject(newRc)
	if err != nil {
		return nil, err
	}
	newRc.ObjectMeta = metav1.ObjectMeta{
		Name:        oldRc.Name + "-" + hash,
		Namespace:   oldRc.Namespace,
		Labels:      oldRc.Labels,
		Annotations: map[string]string{},
	}
	newRc.Status = corev1.ReplicationControllerStatus{}
	if newRc.Spec.Selector == nil {
		newRc.Spec.Selector = map[string]string{}
	}
	newRc.Spec.Selector[u.deploymentKey] = hash
	if newRc.Spec.Template.Labels == nil {
		newRc.Spec.Template.Labels = map[string]string{}
	}
	newRc.Spec.Template.Labels[u.deploymentKey] = hash
	return newRc, nil
}

// hashObject is the md5 of an object's JSON, in hex, as kubectl's HashObject.
func hashObject(v interface{}) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", md5.Sum(data)), nil
}

// markOldController points the old controller at the next one and, if its selector lacks the
// deployment key, adds key=value to its template, its pods and its selector (in that order, so
// that no pod is orphaned), then deletes pods the controller made meanwhile without the label.
func (r *rollingUpdater) markOldController(ctx context.Context, oldRc *corev1.ReplicationController, nextName, key, value string) (*corev1.ReplicationController, error) {
	if _, found := oldRc.Spec.Selector[key]; found {
		return r.updateRC(ctx, oldRc.Name, func(rc *corev1.ReplicationController) {
			setAnnotation(rc, nextControllerAnnotation, nextName)
		})
	}
	oldSelector := labels.SelectorFromSet(oldRc.Spec.Selector).String()
	oldRc, err := r.updateRC(ctx, oldRc.Name, func(rc *corev1.ReplicationController) {
		setAnnotation(rc, nextControllerAnnotation, nextName)
		if rc.Spec.Template.Labels == nil {
			rc.Spec.Template.Labels = map[string]string{}
		}
		rc.Spec.Template.Labels[key] = value
	})
	if err != nil {
		return nil, err
	}
	pods := r.client.CoreV1().Pods(r.ns)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: oldSelector})
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		p := &list.Items[i]
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[key] = value
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("labelling pod %s: %w", p.Name, err)
		}
	}
	oldRc, err = r.updateRC(ctx, oldRc.Name, func(rc *corev1.ReplicationController) {
		if rc.Spec.Selector == nil {
			rc.Spec.Selector = map[string]string{}
		}
		rc.Spec.Selector[key] = value
	})
	if err != nil {
		return nil, err
	}
	list, err = pods.List(ctx, metav1.ListOptions{LabelSelector: oldSelector})
	if err != nil {
		return nil, err
	}
	for _, p := range list.Items {
		if p.Labels[key] != value {
			if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
				return nil, fmt.Errorf("deleting orphaned pod %s: %w", p.Name, err)
			}
		}
	}
	return oldRc, nil
}
