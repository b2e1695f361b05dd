package nodeagent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/probe"
)

// hookUserAgent is what the kubelet sends with an httpGet lifecycle hook.
const hookUserAgent = "kube-lifecycle/1.32"

// minGraceAfterPreStop is what is left of the grace period for the stop signal when a preStop
// hook used it up (the kubelet's minimumGracePeriodInSeconds).
const minGraceAfterPreStop = 2 * time.Second

// hookTransport is the lifecycle hooks' HTTP transport: as the probes', no keep-alives and no
// certificate verification (the kubelet's).
var hookTransport = &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // kubelet semantics
	DisableKeepAlives: true,
	Proxy:             nil,
}

// runHook runs lifecycle handler h of container c (running as id) as kubelet's handlerRunner
// does and returns, when it failed, the kubelet's message: exec fails on a non-zero exit,
// httpGet only when no answer comes (any status code is an answer), sleep when ctx ends first.
func (w *podWorker) runHook(ctx context.Context, c *corev1.Container, id string, h *corev1.LifecycleHandler) (string, error) {
	pod := fmt.Sprintf("%s_%s(%s)", w.pod.Name, w.pod.Namespace, w.pod.UID)
	switch {
	case h.Exec != nil:
		res, err := w.a.cfg.Runtime.Exec(ctx, id, h.Exec.Command, 0)
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("command '%s' exited with %d: %s", strings.Join(h.Exec.Command, " "), res.ExitCode, res.Output)
		}
		if err != nil {
			return fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %v, message: %q",
				h.Exec.Command, c.Name, pod, err, string(res.Output)), err
		}
	case h.HTTPGet != nil:
		if err := w.hookHTTP(ctx, c, h.HTTPGet); err != nil {
			return fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v", h.HTTPGet.Path, c.Name, pod, err), err
		}
	case h.Sleep != nil:
		t := w.a.cfg.Clock.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer t.Stop()
		select {
		case <-t.C():
		case <-ctx.Done():
			err := errors.New("container terminated before sleep hook finished")
			return fmt.Sprintf("Sleep lifecycle hook (%d) for Container %q in Pod %q failed - error: %v", h.Sleep.Seconds, c.Name, pod, err), err
		}
	default:
		err := errors.New("invalid handler")
		return fmt.Sprintf("Cannot run handler: %v", err), err
	}
	return "", nil
}

// hookHTTP sends the hook's GET from the node to the pod (its IP unless the hook names a host).
func (w *podWorker) hookHTTP(ctx context.Context, c *corev1.Container, g *corev1.HTTPGetAction) error {
	url, headers, err := probe.HTTPGetURL(g, w.podIP(), c)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header = headers
	if _, ok := headers["User-Agent"]; !ok {
		req.Header.Set("User-Agent", hookUserAgent)
	}
	if host := headers.Get("Host"); host != "" {
		req.Host = host
	}
	client := &http.Client{Transport: hookTransport}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.Body.Close()
}

// podIP is the address of the pod's running infra container ("" when there is none).
func (w *podWorker) podIP() string {
	if w.infra != nil {
		return w.infra.IP
	}
	if w.view != nil && w.view.infra != nil {
		return w.view.infra.IP
	}
	return w.pod.Status.PodIP
}

// postStart runs c's postStart hook, if it has one, after the container id started. When the
// hook fails, the container is killed (as the kubelet: a FailedPostStartHook event and a
// Killing one) and its restart policy decides what comes next.
func (w *podWorker) postStart(ctx context.Context, c *corev1.Container, id string) {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return
	}
	msg, err := w.runHook(ctx, c, id, c.Lifecycle.PostStart)
	if err == nil {
		return
	}
	w.event(corev1.EventTypeWarning, "FailedPostStartHook", "%s", msg)
	if err := w.kill(ctx, c, id, "FailedPostStartHook", gracePeriod(w.pod)); err != nil {
		w.a.log.Warn("kill container after failed postStart hook", "pod", w.pod.Name, "container", c.Name, "err", err)
	}
	w.res.again(time.Second)
}

// kill stops container id of spec c (nil: not in the pod's spec) as kubelet's killContainer:
// a Killing event with message, then c's preStop hook within the grace period (a
// FailedPreStopHook event when it fails), then the stop signal with what is left of the grace
// period (at least two seconds after a hook), then SIGKILL.
func (w *podWorker) kill(ctx context.Context, c *corev1.Container, id, message string, grace time.Duration) error {
	if c != nil {
		w.event(corev1.EventTypeNormal, "Killing", "%s", message)
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && grace > 0 {
			grace = w.preStop(ctx, c, id, grace)
		}
	}
	return w.a.cfg.Runtime.Stop(ctx, id, grace)
}

// preStop runs c's preStop hook for at most grace and returns the grace period left.
func (w *podWorker) preStop(ctx context.Context, c *corev1.Container, id string, grace time.Duration) time.Duration {
	clock := w.a.cfg.Clock
	start := clock.Now()
	hookCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := w.runHook(hookCtx, c, id, c.Lifecycle.PreStop); err != nil && hookCtx.Err() == nil {
			// Not the hook's output: it may hold secrets (the kubelet does the same).
			w.event(corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed")
		}
	}()
	t := clock.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C():
		w.a.log.Info("preStop hook not completed in grace period", "pod", w.pod.Name, "container", c.Name, "grace", grace)
	}
	left := grace - clock.Since(start)
	if left < minGraceAfterPreStop {
		left = minGraceAfterPreStop
	}
	return left
}

// specOf returns the pod's container (app, init or ephemeral) named name, nil when it has none.
func specOf(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if ec := &pod.Spec.EphemeralContainers[i]; ec.Name == name {
			c := corev1.Container(ec.EphemeralContainerCommon)
			return &c
		}
	}
	return nil
}

// stopping is the Killing message of a container stopped without another reason.
func stopping(c *container.Container) string {
	return "Stopping container " + c.Labels[LabelContainer]
}
