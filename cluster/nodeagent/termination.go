package nodeagent

import (
	"context"
	"io"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// The kubelet's bounds of a termination message taken from the logs
// (FallbackToLogsOnError): the last 80 lines, of which the last 2048 bytes.
const (
	termLogLines = 80
	termLogBytes = 2048
)

// terminationLogMount is the bind mount of the file attempt n of c writes its termination
// message to (at its terminationMessagePath, /dev/termination-log by default), made in the
// pod's directory on the node; ok is false when c has no path or the node no volume manager.
func (w *podWorker) terminationLogMount(c *corev1.Container, n int) (container.Mount, bool, error) {
	if c.TerminationMessagePath == "" || w.a.cfg.Volumes == nil {
		return container.Mount{}, false, nil
	}
	path, err := w.a.cfg.Volumes.TerminationLog(w.uid, c.Name, n)
	if err != nil {
		return container.Mount{}, false, err
	}
	return container.Mount{Type: "bind", Source: path, Target: c.TerminationMessagePath}, true, nil
}

// loadTerminationMessages reads, once per exited container of the view, its termination
// message as the kubelet does: what it wrote to its termination log (at most 4 KiB) or, with
// terminationMessagePolicy FallbackToLogsOnError, when it failed and wrote none, the tail of
// its logs. status() takes them from w.termMsgs.
func (w *podWorker) loadTerminationMessages(ctx context.Context) {
	msgs := make(map[string]string, len(w.termMsgs))
	for _, c := range w.view.all {
		if c.State != container.StateExited || c.Labels[LabelContainer] == infraName {
			continue
		}
		if m, ok := w.termMsgs[c.ID]; ok {
			msgs[c.ID] = m
			continue
		}
		spec := specOf(w.pod, c.Labels[LabelContainer])
		if spec == nil {
			continue
		}
		msgs[c.ID] = w.terminationMessage(ctx, spec, c)
	}
	w.termMsgs = msgs
}

func (w *podWorker) terminationMessage(ctx context.Context, spec *corev1.Container, c container.Container) string {
	msg := ""
	if spec.TerminationMessagePath != "" && w.a.cfg.Volumes != nil {
		m, err := w.a.cfg.Volumes.TerminationMessage(w.uid, spec.Name, attemptOf(c))
		if err != nil {
			w.a.log.Warn("read termination message", "pod", w.pod.Name, "container", spec.Name, "err", err)
		}
		msg = m
	}
	// A container that could not even be started has no logs.
	fallback := spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && c.ExitCode != 0 && c.Error == ""
	if msg == "" && fallback {
		msg = w.logTail(ctx, c.ID)
	}
	return msg
}

// logTail is the last termLogBytes of the last termLogLines lines of a container's logs.
func (w *podWorker) logTail(ctx context.Context, id string) string {
	rc, err := w.a.cfg.Runtime.Logs(ctx, id, container.LogOptions{Tail: termLogLines})
	if err != nil {
		return "Error on reading termination message from logs: " + err.Error()
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return "Error on reading termination message from logs: " + err.Error()
	}
	if len(b) > termLogBytes {
		b = b[len(b)-termLogBytes:]
	}
	return string(b)
}

// terminatedOf is the terminated state of the exited attempt c (nil if it has not exited),
// with its termination message after the engine's, as the kubelet joins them.
func (w *podWorker) terminatedOf(c *container.Container) *corev1.ContainerStateTerminated {
	t := terminated(c)
	if t == nil {
		return nil
	}
	if m := w.termMsgs[c.ID]; m != "" {
		if t.Message != "" {
			t.Message += ": "
		}
		t.Message += m
	}
	return t
}
