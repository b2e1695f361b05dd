package hollow

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/probe"
)

// Prober returns a probe.Prober that answers for this runtime's containers (the target's
// ContainerID) instead of the network: httpGet succeeds while the container runs and is
// healthy (SetHTTPHealth, HOLLOW_HTTP_HEALTHY), tcpSocket while it runs, exec as Exec says.
func (r *Runtime) Prober() probe.Prober { return hollowProber{r} }

type hollowProber struct{ r *Runtime }

func (p hollowProber) Probe(ctx context.Context, pr *corev1.Probe, t probe.Target) (probe.Result, string, error) {
	h := pr.ProbeHandler
	if h.Exec != nil {
		res, err := p.r.Exec(ctx, t.ContainerID, h.Exec.Command, probe.Timeout(pr))
		if err != nil {
			return probe.Unknown, "", err
		}
		if res.ExitCode != 0 {
			return probe.Failure, string(res.Output), nil
		}
		return probe.Success, string(res.Output), nil
	}
	if h.HTTPGet == nil && h.TCPSocket == nil {
		return probe.Unknown, "", errors.New("probe has no supported handler (httpGet, tcpSocket, exec)")
	}
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	c, err := p.r.lookup(t.ContainerID)
	if err != nil || c.state != container.StateRunning {
		return probe.Failure, "connect: connection refused", nil
	}
	if h.HTTPGet != nil && c.unhealthy {
		return probe.Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", 500), nil
	}
	return probe.Success, "", nil
}
