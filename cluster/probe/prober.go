package probe

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// Target is what a probe is aimed at: one container of a pod.
type Target struct {
	PodIP       string            // host of httpGet and tcpSocket probes without their own host
	Container   *corev1.Container // resolves named ports
	ContainerID string            // the runtime's container, for exec probes
}

// Prober runs one attempt of a probe's handler against a target. Real probes the network
// and execs through a runtime; hollow.Runtime.Prober answers for simulated containers.
type Prober interface {
	Probe(ctx context.Context, p *corev1.Probe, t Target) (Result, string, error)
}

// ExecFunc runs cmd in the container id and returns its exit code and combined output.
type ExecFunc func(ctx context.Context, id string, cmd []string) (int, []byte, error)

// Real is the Prober of real containers: httpGet, tcpSocket and grpc over the network, exec
// through Exec.
type Real struct {
	Exec ExecFunc
}

// Probe runs p's handler once with p's timeout (default 1 s).
func (r Real) Probe(ctx context.Context, p *corev1.Probe, t Target) (Result, string, error) {
	timeout := Timeout(p)
	switch h := p.ProbeHandler; {
	case h.HTTPGet != nil:
		u, headers, err := HTTPGetURL(h.HTTPGet, t.PodIP, t.Container)
		if err != nil {
			return Unknown, "", err
		}
		return HTTP(ctx, u, headers, timeout)
	case h.TCPSocket != nil:
		port, err := ResolvePort(h.TCPSocket.Port, t.Container)
		if err != nil {
			return Unknown, "", err
		}
		host := h.TCPSocket.Host
		if host == "" {
			host = t.PodIP
		}
		return TCP(ctx, host, port, timeout)
	case h.Exec != nil:
		if r.Exec == nil {
			return Unknown, "", errors.New("exec probe: no exec function")
		}
		run := func(ctx context.Context, cmd []string) (int, []byte, error) { return r.Exec(ctx, t.ContainerID, cmd) }
		return Exec(ctx, run, h.Exec.Command, timeout)
	case h.GRPC != nil:
		service := ""
		if h.GRPC.Service != nil {
			service = *h.GRPC.Service
		}
		return GRPC(ctx, t.PodIP, int(h.GRPC.Port), service, timeout)
	default:
		return Unknown, "", fmt.Errorf("probe has no supported handler (httpGet, tcpSocket, exec, grpc)")
	}
}

// RuntimeExec adapts a container runtime's Exec to an ExecFunc; the context's deadline, if
// any, becomes the exec's timeout.
func RuntimeExec(rt container.Runtime) ExecFunc {
	return func(ctx context.Context, id string, cmd []string) (int, []byte, error) {
		var timeout time.Duration
		if dl, ok := ctx.Deadline(); ok {
			timeout = time.Until(dl)
		}
		res, err := rt.Exec(ctx, id, cmd, timeout)
		if err != nil {
			return 0, nil, err
		}
		return res.ExitCode, res.Output, nil
	}
}
