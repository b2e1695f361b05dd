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
func (w *podWorker) ensureImage(ctx context.Context, c *corev1.Container) (reason, msg string, retry time.Duration) {
	present, err := w.a.cfg.Runtime.ImagePresent(ctx, c.Image)
	if err != nil {
		return "ErrImagePull", err.Error(), backoffInitial
	}
	policy := c.ImagePullPolicy
	switch {
	case policy == corev1.PullNever && !present:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		w.event(corev1.EventTypeWarning, "ErrImageNeverPull", "%s", msg)
		return "ErrImageNeverPull", msg, 10 * time.Second
	case policy == corev1.PullNever, policy == corev1.PullIfNotPresent && present:
		return "", "", 0
	}
	if last := w.pullFailed[c.Name]; !last.IsZero() {
		if wait := w.pulls.remaining(c.Name, last); wait > 0 {
			return "ImagePullBackOff", fmt.Sprintf("Back-off pulling image %q", c.Image), wait
		}
	}
	if msg := w.pull(ctx, c.Image); msg != "" {
		w.pulls.advance(c.Name, 0)
		w.pullFailed[c.Name] = w.a.cfg.Clock.Now()
		return "ErrImagePull", msg, backoffInitial
	}
	delete(w.pullFailed, c.Name)
	return "", "", 0
}

// pull pulls image with events, logging its progress every 5 s; it returns why it failed
// ("": it did not).
func (w *podWorker) pull(ctx context.Context, image string) string {
	w.event(corev1.EventTypeNormal, "Pulling", "Pulling image %q", image)
	start := time.Now()
	lastReport := time.Time{}
	err := w.a.cfg.Runtime.Pull(ctx, image, func(p container.PullProgress) {
		if time.Since(lastReport) < 5*time.Second {
			return
		}
		lastReport = time.Now()
		w.a.log.Info("pulling image", "image", image, "status", p.Status, "layer", p.ID, "progress", p.Progress)
	})
	if err != nil {
		msg := fmt.Sprintf("Failed to pull image %q: %v", image, err)
		if errors.Is(err, container.ErrImageNotFound) {
			msg = fmt.Sprintf("Failed to pull image %q: image not found: %v", image, err)
		}
		w.event(corev1.EventTypeWarning, "Failed", "%s", msg)
		return msg
	}
	w.event(corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", image, time.Since(start).Round(time.Millisecond))
	return ""
}
