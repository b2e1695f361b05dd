package consultest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// RaftMultiplier is the Consul performance.raft_multiplier of StartCluster's servers: 1 is
// Consul's own recommendation for production servers (the default, 5, suits slow machines);
// it makes a leader's loss noticed and a new one elected within a few seconds.
const RaftMultiplier = 1

// Cluster is a Consul cluster of server agents on loopback ports.
type Cluster struct {
	Agents []*Agent
}

// StartCluster runs n Consul servers (-server -bootstrap-expect n, each with its own data dir
// and ports, joined with -retry-join) for the test, waits until they agree on a leader and
// stops them in t.Cleanup. Without the binary it skips, or fails when DROVER_E2E=1.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := requireBinary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c, err := launchCluster(t, bin, n)
		if err == nil {
			return c
		}
		lastErr = err
		if !errors.Is(err, errExited) {
			break
		}
	}
	t.Fatalf("consultest: cluster of %d: %v", n, lastErr)
	return nil
}

func launchCluster(t testing.TB, bin string, n int) (*Cluster, error) {
	p, err := freePorts(6 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	for i := 0; i < n; i++ {
		q := p[6*i : 6*i+6]
		dir := t.TempDir()
		a := &Agent{
			Addr:       "127.0.0.1:" + strconv.Itoa(q[0]),
			DNSAddr:    "127.0.0.1:" + strconv.Itoa(q[1]),
			ServerAddr: "127.0.0.1:" + strconv.Itoa(q[4]),
			DataDir:    filepath.Join(dir, "data"),
			LogPath:    filepath.Join(dir, "consul.log"),
			bin:        bin,
		}
		a.args = []string{"agent", "-server", "-bootstrap-expect", strconv.Itoa(n),
			"-bind", "127.0.0.1", "-client", "127.0.0.1",
			"-node", fmt.Sprintf("consultest-%d-%d", i, q[0]), "-data-dir", a.DataDir, "-log-level", "info",
			"-http-port", strconv.Itoa(q[0]), "-dns-port", strconv.Itoa(q[1]),
			"-serf-lan-port", strconv.Itoa(q[2]), "-serf-wan-port", strconv.Itoa(q[3]),
			"-server-port", strconv.Itoa(q[4]), "-grpc-port", strconv.Itoa(q[5]),
			"-grpc-tls-port", "-1", "-https-port", "-1",
			"-hcl", fmt.Sprintf("performance { raft_multiplier = %d }", RaftMultiplier)}
		for j := 0; j < n; j++ {
			if j != i {
				a.args = append(a.args, "-retry-join", "127.0.0.1:"+strconv.Itoa(p[6*j+2]))
			}
		}
		if err := a.spawn(); err != nil {
			c.Stop()
			return nil, err
		}
		c.Agents = append(c.Agents, a)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			for _, a := range c.Agents {
				a.dumpLog(t)
			}
		}
	})
	if _, err := c.WaitLeader(LeaderTimeout); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// Stop stops every agent of the cluster.
func (c *Cluster) Stop() {
	for _, a := range c.Agents {
		a.Stop()
	}
}

// Leader returns the agent every running agent names as the raft leader, or an error when they
// name none or disagree.
func (c *Cluster) Leader(ctx context.Context) (*Agent, error) {
	hc := &http.Client{Timeout: 2 * time.Second}
	var leader string
	for _, a := range c.Agents {
		if a.Exited() {
			continue
		}
		l, err := getLeader(ctx, hc, "http://"+a.Addr+"/v1/status/leader")
		switch {
		case err != nil:
			return nil, fmt.Errorf("agent %s: %w", a.Addr, err)
		case l == "":
			return nil, fmt.Errorf("agent %s knows no leader", a.Addr)
		case leader != "" && l != leader:
			return nil, fmt.Errorf("agents disagree on the leader: %s and %s", leader, l)
		}
		leader = l
	}
	for _, a := range c.Agents {
		if a.ServerAddr == leader && !a.Exited() {
			return a, nil
		}
	}
	return nil, fmt.Errorf("leader %q is none of the running agents", leader)
}

// WaitLeader waits until the running agents agree on a leader among them.
func (c *Cluster) WaitLeader(timeout time.Duration) (*Agent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		a, err := c.Leader(ctx)
		if err == nil {
			return a, nil
		}
		for _, a := range c.Agents {
			select {
			case <-a.done:
				if !a.killed() {
					return nil, fmt.Errorf("%w: %s (%v)\n%s", errExited, a.Addr, a.waitErr, a.tail(3000))
				}
			default:
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("consul cluster elected no leader within %v: %w", timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Followers returns the running agents that are not the leader.
func (c *Cluster) Followers(leader *Agent) []*Agent {
	var out []*Agent
	for _, a := range c.Agents {
		if a != leader && !a.Exited() {
			out = append(out, a)
		}
	}
	return out
}
