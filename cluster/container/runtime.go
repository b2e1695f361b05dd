// Package container is the node agent's seam to a container engine: the Runtime interface,
// with docker/ (the real Docker Engine), hollow/ (containers simulated in memory, for unit
// tests and the scale benchmark) and runtimetest/ (the conformance suite both pass).
package container

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors every Runtime returns (wrapped; test with errors.Is).
var (
	ErrNotFound      = errors.New("container: not found")       // no such container
	ErrImageNotFound = errors.New("container: image not found") // image absent (Create) or unknown to the registry (Pull)
	ErrNotRunning    = errors.New("container: not running")     // Stats of a container that is not running
)

// Runtime runs containers on one host.
type Runtime interface {
	// Info describes the host and engine.
	Info(ctx context.Context) (Info, error)
	// ImagePresent reports whether image is available locally.
	ImagePresent(ctx context.Context, image string) (bool, error)
	// ImageUser is the user a present image runs as ("" when it names none: root).
	ImageUser(ctx context.Context, image string) (string, error)
	// Pull fetches image, reporting progress lines as they come.
	Pull(ctx context.Context, image string, progress func(PullProgress)) error
	// EnsureNetwork creates the bridge network name with subnet (CIDR) unless it exists and
	// returns its gateway address.
	EnsureNetwork(ctx context.Context, name, subnet string) (gateway string, err error)
	// Create creates (does not start) a container.
	Create(ctx context.Context, spec Spec) (id string, err error)
	// Start starts a created or exited container.
	Start(ctx context.Context, id string) error
	// Stop sends the stop signal (SIGTERM), waits up to grace, then kills.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Remove removes a container (force: even if running) and its anonymous volumes.
	Remove(ctx context.Context, id string) error
	// List returns the containers (running or not) carrying every label in match.
	List(ctx context.Context, match map[string]string) ([]Container, error)
	// Inspect returns one container's current state.
	Inspect(ctx context.Context, id string) (Container, error)
	// Logs streams a container's output (stdout and stderr interleaved).
	Logs(ctx context.Context, id string, opts LogOptions) (io.ReadCloser, error)
	// Exec runs cmd in a running container and returns its exit code and combined output.
	Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) (ExecResult, error)
	// ExecStream runs cmd in a running container with its standard streams connected to s
	// (kubectl exec) and returns the command's exit code once it has ended and its output has
	// been written.
	ExecStream(ctx context.Context, id string, cmd []string, s Streams) (exitCode int, err error)
	// Attach connects s to a running container's own standard streams (kubectl attach) until
	// the container's output ends or ctx ends.
	Attach(ctx context.Context, id string, s Streams) error
	// PortForward copies stream to and from port (TCP) in the network namespace of the
	// running container id (a pod's infra container) until either side closes. A connection
	// the pod refuses is an error; one it resets after connecting ends the copy without one.
	PortForward(ctx context.Context, id string, port int, stream io.ReadWriteCloser) error
	// Stats samples a running container's resource usage: cumulative CPU time and current
	// memory (ErrNotRunning when it is not running). Rates are the caller's to compute from
	// two samples, as metrics-server does from the kubelet's cumulative counters.
	Stats(ctx context.Context, id string) (Stats, error)
}

// Versioned is a Runtime that tells cheaply whether any of its containers changed: Version
// moves on with every container created, started, exited or removed (and may move on for
// other changes). The node agent's relist skips listing while it stands still: a hollow
// node's relist every second cost more CPU than anything else it does, on the machine whose
// API server a density test measures.
type Versioned interface {
	Version() uint64
}

// Stats is one sample of a container's resource usage.
type Stats struct {
	// Time is when the sample was taken.
	Time time.Time
	// CPUUsageNanoSeconds is the CPU time the container has used since it started, on all
	// cores (the cgroup's cpuacct.usage).
	CPUUsageNanoSeconds uint64
	// MemoryUsageBytes is the cgroup's memory usage, page cache included.
	MemoryUsageBytes uint64
	// MemoryWorkingSetBytes is what the kubelet reports and evicts on: usage minus the
	// inactive file cache (never below 0).
	MemoryWorkingSetBytes uint64
}

// Streams are the standard streams of an ExecStream or Attach. A nil Stdin, Stdout or Stderr
// is not attached; with TTY the process gets a terminal and all its output goes to Stdout.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	// Resize carries the terminal's size, first and after each change (TTY only; may be nil).
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's size in characters.
type TerminalSize struct{ Width, Height uint16 }

// Info describes the host.
type Info struct {
	EngineVersion   string // e.g. "20.10.24"
	OS              string // e.g. "Debian GNU/Linux 12 (bookworm)"
	KernelVersion   string
	Architecture    string
	CPUs            int
	MemoryBytes     int64
	Hostname        string
	RuntimeName     string // "docker" or "hollow"
	CgroupDriver    string
	OperatingSystem string // "linux"
}

// PullProgress is one progress report of a pull.
type PullProgress struct {
	Status   string // e.g. "Downloading"
	ID       string // layer
	Current  int64
	Total    int64
	Progress string // human-readable bar, if the engine gives one
}

// Spec describes a container to create.
type Spec struct {
	Name       string // unique container name
	Image      string
	Entrypoint []string // nil: the image's
	Cmd        []string // nil: the image's
	Env        []string // KEY=value
	WorkingDir string
	Labels     map[string]string
	Hostname   string
	// NetworkMode is a network name (the pod's infra container) or "container:ID" (app
	// containers joining the infra container's namespace).
	NetworkMode string
	// RuntimeHandler is the engine's OCI runtime that runs the container ("" : the engine's
	// default): a RuntimeClass's handler. An engine without it refuses the create
	// (Docker: "Unknown runtime specified NAME").
	RuntimeHandler string
	// IP requests a fixed address on the network (optional).
	IP           string
	PortBindings []PortBinding
	Mounts       []Mount
	DNS          []string
	DNSSearch    []string
	DNSOptions   []string
	ExtraHosts   []string // "host:ip"
	MemoryLimit  int64    // bytes; 0: none
	NanoCPUs     int64    // 1e9 = one CPU; 0: none
	CPUShares    int64
	PidsLimit    int64 // the most processes (threads) the container may hold; 0: none
	Privileged   bool
	User         string // "uid" or "uid:gid"
	// GroupAdd are supplementary groups (numeric gids) of the container's process.
	GroupAdd []string
	// CapAdd and CapDrop change the engine's default capability set ("ALL" is every one).
	CapAdd, CapDrop []string
	// ReadonlyRootfs mounts the container's root file system read-only.
	ReadonlyRootfs bool
	// NoNewPrivileges sets no_new_privs: setuid binaries and file capabilities gain nothing.
	NoNewPrivileges bool
	// SeccompUnconfined runs without a seccomp filter (the engine's default profile otherwise).
	SeccompUnconfined bool
	// Sysctls are namespaced kernel parameters set in the container's namespaces.
	Sysctls    map[string]string
	StopSignal string
	// Stdin keeps the container's standard input open for attach; StdinOnce closes it after
	// the first attach ends; TTY gives it a terminal (kubectl run/debug -it).
	Stdin, StdinOnce, TTY bool
	// PidMode "container:ID" joins another container's PID namespace (an ephemeral
	// container's target); "" the engine's default (its own).
	PidMode string
	// ShmSize etc. can be added when needed.
}

// PortBinding publishes a container port on the host.
type PortBinding struct {
	ContainerPort int
	Protocol      string // "tcp", "udp", "sctp"
	HostIP        string
	HostPort      int
}

// Mount is a bind mount or a tmpfs.
type Mount struct {
	Type     string // "bind" or "tmpfs"
	Source   string // host path (bind)
	Target   string // path in the container
	ReadOnly bool
	// TmpfsSize bounds a tmpfs (bytes, 0: engine default).
	TmpfsSize int64
}

// State is a container's lifecycle state.
type State string

// States.
const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateExited  State = "exited"
	StateUnknown State = "unknown"
)

// Container is a container as the runtime sees it.
type Container struct {
	ID         string
	Name       string
	Image      string
	ImageID    string
	Labels     map[string]string
	State      State
	ExitCode   int
	OOMKilled  bool
	Error      string // engine error (e.g. failed to start)
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	IP         string // address on its network (infra containers)
	Pid        int    // the main process's PID on the host while running (0: unknown or not running)
}

// LogOptions selects log output.
type LogOptions struct {
	Follow     bool
	Tail       int // lines from the end; <0: all
	Since      time.Time
	Timestamps bool
}

// ExecResult is the outcome of Exec.
type ExecResult struct {
	ExitCode int
	Output   []byte
}
