package nodeagent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/types"
	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/kubelet/pkg/cri/streaming/portforward"
	remotecommandserver "k8s.io/kubelet/pkg/cri/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/drover-ci/drover/cluster/container"
)

// Stream timeouts, as the kubelet's defaults: an idle stream ends after 4 hours; a client
// has 30 s to create its SPDY streams.
const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = remotecommandconsts.DefaultStreamCreationTimeout
)

// handleExec serves /exec/NAMESPACE/POD/CONTAINER?command=…&input=1&output=1&error=1&tty=1
// with k8s.io/kubelet's remotecommand server (SPDY, and WebSocket up to v4.channel.k8s.io;
// the API server translates kubectl's v5 WebSocket to SPDY).
func (a *Agent) handleExec(w http.ResponseWriter, r *http.Request) {
	c, uid, ok := a.streamTarget(w, r)
	if !ok {
		return
	}
	opts, err := remotecommandserver.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	remotecommandserver.ServeExec(w, r, streamer{a.cfg.Runtime}, r.PathValue("pod"), uid, c.ID, r.URL.Query()["command"], opts,
		streamIdleTimeout, streamCreationTimeout, remotecommandconsts.SupportedStreamingProtocols)
}

// handleAttach serves /attach/NAMESPACE/POD/CONTAINER.
func (a *Agent) handleAttach(w http.ResponseWriter, r *http.Request) {
	c, uid, ok := a.streamTarget(w, r)
	if !ok {
		return
	}
	opts, err := remotecommandserver.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	remotecommandserver.ServeAttach(w, r, streamer{a.cfg.Runtime}, r.PathValue("pod"), uid, c.ID, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommandconsts.SupportedStreamingProtocols)
}

// handlePortForward serves /portForward/NAMESPACE/POD: each stream pair the client opens is
// connected to its port in the pod's network namespace (entered through the infra container).
func (a *Agent) handlePortForward(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("pod")
	pod := a.podByName(ns, name)
	if pod == nil {
		http.Error(w, fmt.Sprintf("pod %s/%s is not on node %s", ns, name, a.cfg.NodeName), http.StatusNotFound)
		return
	}
	cs, err := a.cfg.Runtime.List(r.Context(), map[string]string{LabelPodUID: string(pod.UID)})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	infra := newPodView(cs).infra
	if !running(infra) {
		http.Error(w, fmt.Sprintf("pod %s/%s has no running sandbox", ns, name), http.StatusServiceUnavailable)
		return
	}
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	portforward.ServePortForward(w, r, forwarder{rt: a.cfg.Runtime, infra: infra.ID}, name, pod.UID, opts,
		streamIdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

// streamTarget finds the running container a stream request names, answering the error
// itself when there is none.
func (a *Agent) streamTarget(w http.ResponseWriter, r *http.Request) (container.Container, types.UID, bool) {
	ref := refOf(r)
	c, status, err := a.findContainer(r.Context(), ref, false)
	if err != nil {
		http.Error(w, err.Error(), status)
		return c, "", false
	}
	if c.State != container.StateRunning {
		http.Error(w, fmt.Sprintf("container %s is not running in pod %s/%s (it is %s, exit code %d)", ref.container, ref.namespace, ref.pod, c.State, c.ExitCode), http.StatusBadRequest)
		return c, "", false
	}
	return c, types.UID(c.Labels[LabelPodUID]), true
}

// streamer adapts the runtime to the kubelet library's Executor and Attacher.
type streamer struct{ rt container.Runtime }

func (s streamer) ExecInContainer(ctx context.Context, _ string, _ types.UID, id string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	code, err := s.rt.ExecStream(ctx, id, cmd, streams(ctx, in, out, errOut, tty, resize))
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

func (s streamer) AttachContainer(ctx context.Context, _ string, _ types.UID, id string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return s.rt.Attach(ctx, id, streams(ctx, in, out, errOut, tty, resize))
}

// streams converts the library's streams (nil interfaces when not asked for) and resize
// events to the runtime's.
func streams(ctx context.Context, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) container.Streams {
	s := container.Streams{TTY: tty}
	if in != nil {
		s.Stdin = in
	}
	if out != nil {
		s.Stdout = out
	}
	if errOut != nil {
		s.Stderr = errOut
	}
	if resize != nil {
		ch := make(chan container.TerminalSize)
		go func() {
			defer close(ch)
			for {
				select {
				case <-ctx.Done():
					return
				case size, ok := <-resize:
					if !ok {
						return
					}
					select {
					case ch <- container.TerminalSize{Width: size.Width, Height: size.Height}:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
		s.Resize = ch
	}
	return s
}

// forwarder adapts the runtime to the library's PortForwarder for one pod.
type forwarder struct {
	rt    container.Runtime
	infra string
}

func (f forwarder) PortForward(ctx context.Context, _ string, _ types.UID, port int32, stream io.ReadWriteCloser) error {
	return f.rt.PortForward(ctx, f.infra, int(port), stream)
}
