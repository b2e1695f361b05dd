package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// ensureInfra is the sandbox step: the pod's infra container runs, (re)created when missing
// or dead.
func (w *podWorker) ensureInfra(ctx context.Context) bool {
	infra, err := w.runInfra(ctx)
	if err == nil {
		_, err = w.runtimeHandler(ctx) // an adopted sandbox's app containers need it too
	}
	if err != nil {
		w.event(corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		w.waitAll("ContainerCreating", "")
		w.res.again(2 * time.Second)
		return false
	}
	w.infra = infra
	return true
}

// runInfra returns the running infra container, creating the next attempt when there is
// none. A dead infra container means the pod's network is gone: its app containers are
// replaced too.
func (w *podWorker) runInfra(ctx context.Context) (*container.Container, error) {
	view := w.view
	if running(view.infra) {
		return view.infra, nil
	}
	attempt := 0
	if view.infra != nil {
		attempt = attemptOf(*view.infra) + 1
	}
	if len(view.all) > 0 {
		w.killSandbox(ctx)
	}
	handler, err := w.runtimeHandler(ctx)
	if err != nil {
		return nil, err
	}
	spec := w.a.infraSpec(w.pod)
	spec.RuntimeHandler = handler
	spec.Name = dockerName(w.pod, infraName, attempt)
	spec.Labels[LabelAttempt] = fmt.Sprint(attempt)
	id, err := w.a.createInfra(ctx, spec)
	if err != nil {
		return nil, err
	}
	c, err := w.a.cfg.Runtime.Inspect(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("inspect infra container: %w", err)
	}
	if spec.Labels[LabelHostNetwork] == "true" && c.IP == "" {
		c.IP = w.a.hostIP // the pod's IP is the node's (podView.withHostIP)
	}
	return &c, nil
}

// runtimeHandler is the handler of the pod's RuntimeClass, the engine runtime its containers
// run with ("" : none named, the engine's default), read once per pod as the kubelet's
// runtimeclass manager looks it up. A RuntimeClass that cannot be read fails the sandbox (the
// pod waits, ContainerCreating, and the next sync reads it again); a handler the engine does
// not have fails the infra container's create with the engine's own message, as a CRI
// runtime without the handler fails RunPodSandbox: nothing runs with another runtime than
// the one asked for.
func (w *podWorker) runtimeHandler(ctx context.Context) (string, error) {
	if w.handler != nil {
		return *w.handler, nil
	}
	h := ""
	if name := w.pod.Spec.RuntimeClassName; name != nil && *name != "" {
		rc, err := w.a.cfg.Client.NodeV1().RuntimeClasses().Get(ctx, *name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("failed to lookup RuntimeClass %s: %w", *name, err)
		}
		h = rc.Handler
	}
	w.handler = &h
	return h, nil
}

// killSandbox stops the containers of a pod whose infra container died or was removed: it
// took the pod's network namespace with it, and app containers still running in it would
// never reach the new one. The app containers stay (restart counts live in their labels);
// the old infra containers go.
func (w *podWorker) killSandbox(ctx context.Context) {
	w.event(corev1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
	for _, c := range w.view.all {
		_ = w.a.cfg.Runtime.Stop(ctx, c.ID, gracePeriod(w.pod))
	}
	for _, c := range w.view.all {
		if c.Labels[LabelContainer] == infraName {
			_ = w.a.cfg.Runtime.Remove(ctx, c.ID)
		}
	}
}

// createInfra creates and starts an infra container. When that fails, the pause image or the
// pod network may have been removed behind the agent's back: both are ensured again and the
// creation is retried once.
func (a *Agent) createInfra(ctx context.Context, spec container.Spec) (string, error) {
	id, err := a.createStart(ctx, spec)
	if err == nil {
		return id, nil
	}
	a.mu.Lock()
	a.imagesOK = false
	a.mu.Unlock()
	if perr := a.ensureImages(ctx); perr != nil {
		return "", errors.Join(err, perr)
	}
	if _, nerr := a.cfg.Runtime.EnsureNetwork(ctx, a.cfg.Network, a.cfg.Subnet); nerr != nil {
		return "", errors.Join(err, nerr)
	}
	return a.createStart(ctx, spec)
}

func (a *Agent) createStart(ctx context.Context, spec container.Spec) (string, error) {
	id, err := a.cfg.Runtime.Create(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("create infra container: %w", err)
	}
	if err := a.cfg.Runtime.Start(ctx, id); err != nil {
		_ = a.cfg.Runtime.Remove(ctx, id)
		return "", fmt.Errorf("start infra container: %w", err)
	}
	return id, nil
}

// ensureImages makes the node's own images (EnsureImages) once.
func (a *Agent) ensureImages(ctx context.Context) error {
	a.mu.Lock()
	ok := a.imagesOK
	a.mu.Unlock()
	if ok || a.cfg.EnsureImages == nil {
		return nil
	}
	if err := a.cfg.EnsureImages(ctx); err != nil {
		return fmt.Errorf("node images: %w", err)
	}
	a.mu.Lock()
	a.imagesOK = true
	a.mu.Unlock()
	return nil
}
