package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// ensureImage makes c's image available as imagePullPolicy says. On failure it returns the
// waiting reason (ErrImagePull on a fresh failure, ImagePullBackOff while backing off,
// ErrImageNeverPull when the policy forbids pulling a missing image), a message and when to
// retry.
func (a *Agent) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (reason, msg string, retry time.Duration) {
	present, err := a.cfg.Runtime.ImagePresent(ctx, c.Image)
	if err != nil {
		return "ErrImagePull", err.Error(), backoffInitial
	}
	policy := c.ImagePullPolicy
	switch {
	case policy == corev1.PullNever && !present:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
		return "ErrImageNeverPull", msg, 10 * time.Second
	case policy == corev1.PullNever, policy == corev1.PullIfNotPresent && present:
		return "", "", 0
	}
	key := "pull/" + string(pod.UID) + "/" + c.Name
	a.mu.Lock()
	last := a.pullFailed[key]
	a.mu.Unlock()
	if wait := a.backoff.remaining(key, last); !last.IsZero() && wait > 0 {
		return "ImagePullBackOff", fmt.Sprintf("Back-off pulling image %q", c.Image), wait
	}
	a.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := time.Now()
	lastReport := time.Time{}
	err = a.cfg.Runtime.Pull(ctx, c.Image, func(p container.PullProgress) {
		if time.Since(lastReport) < 5*time.Second {
			return
		}
		lastReport = time.Now()
		a.log.Info("pulling image", "image", c.Image, "status", p.Status, "layer", p.ID, "progress", p.Progress)
	})
	if err != nil {
		a.backoff.advance(key, 0)
		a.mu.Lock()
		a.pullFailed[key] = a.cfg.Clock.Now()
		a.mu.Unlock()
		msg := fmt.Sprintf("Failed to pull image %q: %v", c.Image, err)
		if errors.Is(err, container.ErrImageNotFound) {
			msg = fmt.Sprintf("Failed to pull image %q: image not found: %v", c.Image, err)
		}
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "Failed", msg)
		return "ErrImagePull", msg, backoffInitial
	}
	a.mu.Lock()
	delete(a.pullFailed, key)
	a.mu.Unlock()
	a.recorder.Eventf(pod, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", c.Image, time.Since(start).Round(time.Millisecond))
	return "", "", 0
}
