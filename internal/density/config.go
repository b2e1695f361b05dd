// Package density is the driver of the kubemark-style density test (issue 20 item 7, `make
// density`): against an API server with N hollow nodes it waits for the nodes to be Ready,
// creates pods through ReplicationControllers of 30 replicas (and bursts of bare pods), watches
// them reach Running, samples API latencies, reads the server's and the hollow nodes' resource
// use from /proc, and prints one markdown table row per step.
package density

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Config is one step of the density test.
type Config struct {
	Kubeconfig string
	// Step names the row (default NODES/PODS).
	Step  string
	Nodes int
	// Pods are created through ReplicationControllers of RCReplicas (the last one gets the
	// remainder), PodsPerNamespace of them in each test namespace.
	Pods             int
	RCReplicas       int
	PodsPerNamespace int
	// BarePods more pods are created directly, BurstSize at once, after the RCs.
	BarePods  int
	BurstSize int
	// CreateWorkers create the RCs (and each burst's bare pods) concurrently.
	CreateWorkers int
	// NamespacePrefix names the test namespaces PREFIX-0, PREFIX-1, ...
	NamespacePrefix string

	// LatencyPods are created after the saturation pods all run, one every LatencyInterval,
	// to measure pod startup in a saturated cluster as Kubernetes' density test does (-1: one
	// per node, as it does; 0: none).
	LatencyPods     int
	LatencyInterval time.Duration

	NodeTimeout time.Duration
	// PodTimeout bounds each phase: the saturation pods from the first create, the latency
	// pods from the first latency pod's create.
	PodTimeout time.Duration
	// StaleLease is the renewTime age from which a node Lease counts as stale.
	StaleLease time.Duration
	// ProbeInterval is the pause between GET and CREATE samples, ListInterval between LIST
	// samples (one sampler per kind; a slow call delays only its own kind).
	ProbeInterval time.Duration
	ListInterval  time.Duration
	// ProgressInterval is how often a progress line is logged.
	ProgressInterval time.Duration

	// ServerPID is the API server's process (0: its RSS and CPU are not reported), NodePIDs
	// the hollow node processes, StateDB the bolt file whose size is reported ("": none).
	ServerPID int
	NodePIDs  []int
	StateDB   string

	// Header prints the table's header lines before the row; Cleanup deletes the test
	// namespaces at the end.
	Header  bool
	Cleanup bool
	QPS     float64
}

// ParseFlags reads a Config from the command line (args without the program name). Usage and
// errors name the flag.
func ParseFlags(args []string, usage io.Writer) (Config, error) {
	var c Config
	var nodePIDs string
	fs := flag.NewFlagSet("drover-density", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig of the API server (required; an admin's: the driver creates namespaces, RCs and pods and lists Leases)")
	fs.StringVar(&c.Step, "step", "", "name of the step in the results row (default NODES/PODS)")
	fs.IntVar(&c.Nodes, "nodes", 0, "Ready nodes to wait for (required, at least 1)")
	fs.IntVar(&c.Pods, "pods", 0, "pods to create through ReplicationControllers")
	fs.IntVar(&c.RCReplicas, "rc-replicas", 30, "replicas of each ReplicationController")
	fs.IntVar(&c.PodsPerNamespace, "pods-per-namespace", 3000, "RC pods per test namespace (LIST namespace lists one of them)")
	fs.IntVar(&c.BarePods, "bare-pods", 0, "pods to create directly (without an RC) after the RCs, in bursts")
	fs.IntVar(&c.BurstSize, "burst-size", 100, "bare pods created at once in each burst")
	fs.IntVar(&c.CreateWorkers, "create-workers", 8, "concurrent creates of RCs and of each burst's pods")
	fs.StringVar(&c.NamespacePrefix, "namespace-prefix", "density", "test namespaces are PREFIX-0, PREFIX-1, ...")
	fs.IntVar(&c.LatencyPods, "latency-pods", -1, "pods created one at a time after the saturation pods all run, to measure pod startup in a saturated cluster as Kubernetes' density test does (-1: one per node; 0: none)")
	fs.DurationVar(&c.LatencyInterval, "latency-interval", 200*time.Millisecond, "pause between latency pod creates (Kubernetes' density test: 200ms, ~5 pods/s)")
	fs.DurationVar(&c.NodeTimeout, "node-timeout", 10*time.Minute, "how long to wait for the nodes to be Ready")
	fs.DurationVar(&c.PodTimeout, "pod-timeout", 15*time.Minute, "how long to wait for all pods to be Running after the first RC was created, and for the latency pods after the first was created (then the row says how many were)")
	fs.DurationVar(&c.StaleLease, "stale-lease", 20*time.Second, "a node Lease whose renewTime is older than this counts as stale")
	fs.DurationVar(&c.ProbeInterval, "probe-interval", 500*time.Millisecond, "pause between GET pod and between CREATE pod samples")
	fs.DurationVar(&c.ListInterval, "list-interval", 5*time.Second, "pause between LIST namespace and between LIST all pods samples")
	fs.DurationVar(&c.ProgressInterval, "progress-interval", 10*time.Second, "how often a progress line is written")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "pid of the API server process: its RSS and CPU seconds are reported (0: not)")
	fs.StringVar(&nodePIDs, "node-pids", "", "comma-separated pids of the hollow node processes: their RSS per node is reported")
	fs.StringVar(&c.StateDB, "state-db", "", "the bolt store's file whose size is reported")
	fs.BoolVar(&c.Header, "header", false, "print the table header before the row")
	fs.BoolVar(&c.Cleanup, "cleanup", false, "delete the test namespaces at the end")
	fs.Float64Var(&c.QPS, "qps", 500, "client-side rate limit of the driver's API clients (requests/s; burst twice that)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q: drover-density takes flags only", fs.Arg(0))
	}
	if nodePIDs != "" {
		for _, f := range strings.Split(nodePIDs, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || pid <= 0 {
				return c, fmt.Errorf("--node-pids %q: %q is not a process id", nodePIDs, f)
			}
			c.NodePIDs = append(c.NodePIDs, pid)
		}
	}
	if c.Step == "" {
		c.Step = fmt.Sprintf("%d/%d", c.Nodes, c.Pods+c.BarePods)
	}
	return c, c.Validate()
}

// Validate reports the first bad setting, naming its flag.
func (c Config) Validate() error {
	pos := func(name string, v int) error {
		if v < 1 {
			return fmt.Errorf("--%s %d: want at least 1", name, v)
		}
		return nil
	}
	nonNeg := func(name string, v int) error {
		if v < 0 {
			return fmt.Errorf("--%s %d: must not be negative", name, v)
		}
		return nil
	}
	dur := func(name string, d time.Duration) error {
		if d <= 0 {
			return fmt.Errorf("--%s %s: must be positive", name, d)
		}
		return nil
	}
	if c.Kubeconfig == "" {
		return errors.New("--kubeconfig: required (the API server's admin kubeconfig)")
	}
	return errors.Join(
		pos("nodes", c.Nodes), nonNeg("pods", c.Pods), pos("rc-replicas", c.RCReplicas),
		pos("pods-per-namespace", c.PodsPerNamespace), nonNeg("bare-pods", c.BarePods),
		pos("burst-size", c.BurstSize), pos("create-workers", c.CreateWorkers),
		nonNeg("server-pid", c.ServerPID),
		dur("node-timeout", c.NodeTimeout), dur("pod-timeout", c.PodTimeout), dur("stale-lease", c.StaleLease),
		dur("probe-interval", c.ProbeInterval), dur("list-interval", c.ListInterval),
		dur("progress-interval", c.ProgressInterval), dur("latency-interval", c.LatencyInterval), c.checkRest(),
	)
}

func (c Config) checkRest() error {
	if c.PodsPerNamespace < c.RCReplicas {
		return fmt.Errorf("--pods-per-namespace %d: less than --rc-replicas %d (an RC lives in one namespace)", c.PodsPerNamespace, c.RCReplicas)
	}
	if c.NamespacePrefix == "" || strings.ToLower(c.NamespacePrefix) != c.NamespacePrefix || len(c.NamespacePrefix) > 50 {
		return fmt.Errorf("--namespace-prefix %q: want a lower-case DNS label of at most 50 characters", c.NamespacePrefix)
	}
	if c.LatencyPods < -1 {
		return fmt.Errorf("--latency-pods %d: want -1 (one per node), 0 (none) or a number of pods", c.LatencyPods)
	}
	if c.QPS <= 0 {
		return fmt.Errorf("--qps %g: must be positive", c.QPS)
	}
	return nil
}

// latencyPods is how many latency pods to create.
func (c Config) latencyPods() int {
	if c.LatencyPods < 0 {
		return c.Nodes
	}
	return c.LatencyPods
}

// rcSizes are the replicas of each RC for pods pods: full RCs of size, the last the remainder.
func rcSizes(pods, size int) []int {
	var out []int
	for pods > 0 {
		n := min(size, pods)
		out = append(out, n)
		pods -= n
	}
	return out
}

// namespaces is how many test namespaces hold the RCs: each holds at most perNS pods, in
// whole RCs.
func namespaces(pods, rcSize, perNS int) int {
	rcsPerNS := max(perNS/rcSize, 1)
	rcs := len(rcSizes(pods, rcSize))
	return max((rcs+rcsPerNS-1)/rcsPerNS, 1)
}
