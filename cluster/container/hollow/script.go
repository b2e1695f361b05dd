package hollow

import (
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/drover-ci/drover/cluster/container"
)

// Script is the scripted behaviour of a hollow container.
type Script struct {
	// Exit makes the container exit by itself RunFor after each start with ExitCode (OOM:
	// 137 and OOMKilled). Without Exit (and without OOM) it runs until stopped.
	Exit     bool
	RunFor   time.Duration
	ExitCode int
	OOM      bool
	// IgnoreSIGTERM makes Stop wait the whole grace period, then kill (exit code 137).
	IgnoreSIGTERM bool
	// StopAfter is how long the container takes to exit after SIGTERM (0: at once); beyond
	// the grace period it is killed (137).
	StopAfter time.Duration
	// TermExitCode is the exit code after SIGTERM (default 143, 128+SIGTERM).
	TermExitCode *int
	// TermLogs are written each time the container receives its stop signal.
	TermLogs []string
	// StartError makes Start fail with this message (the container stays created).
	StartError string
	// Logs are written, one line each, when the container starts.
	Logs []string
	// Exec answers Exec by command (its words joined by single spaces); other commands exit
	// with ExecExitCode and no output.
	Exec         map[string]container.ExecResult
	ExecExitCode int
	// execFn answers the Execs Exec does not (the built-in test image emulations).
	execFn execFunc
	// HTTPUnhealthy makes httpGet probes of the hollow Prober fail until SetHTTPHealth.
	HTTPUnhealthy bool
	// CPUNanoCores and MemoryBytes are the usage Stats reports while the container runs
	// (memory 0: 2 MiB).
	CPUNanoCores uint64
	MemoryBytes  uint64
}

// Environment variables that script a container (they override the image's Script):
//
//	HOLLOW_EXIT_CODE=N       exit with N (at once unless HOLLOW_RUN_FOR is set)
//	HOLLOW_RUN_FOR=DURATION  exit after DURATION (Go syntax, e.g. 1m30s) with HOLLOW_EXIT_CODE or 0
//	HOLLOW_OOM=true          be OOM-killed (137) when HOLLOW_RUN_FOR elapses (at once without it)
//	HOLLOW_IGNORE_SIGTERM=true
//	HOLLOW_STOP_AFTER=DURATION   time to exit after SIGTERM
//	HOLLOW_TERM_EXIT_CODE=N  exit code after SIGTERM (default 143)
//	HOLLOW_START_ERROR=MSG   Start fails with MSG
//	HOLLOW_LOGS=LINES        log lines at start, separated by newlines or "|"
//	HOLLOW_EXEC_EXIT_CODE=N  exit code of Exec for unscripted commands
//	HOLLOW_HTTP_HEALTHY=false    httpGet probes fail until SetHTTPHealth
//	HOLLOW_CPU=QUANTITY      CPU the container uses, in cores (e.g. 250m, 1.5)
//	HOLLOW_MEMORY=QUANTITY   its memory working set (e.g. 64Mi)
const (
	EnvExitCode      = "HOLLOW_EXIT_CODE"
	EnvRunFor        = "HOLLOW_RUN_FOR"
	EnvOOM           = "HOLLOW_OOM"
	EnvIgnoreSIGTERM = "HOLLOW_IGNORE_SIGTERM"
	EnvStopAfter     = "HOLLOW_STOP_AFTER"
	EnvTermExitCode  = "HOLLOW_TERM_EXIT_CODE"
	EnvStartError    = "HOLLOW_START_ERROR"
	EnvLogs          = "HOLLOW_LOGS"
	EnvExecExitCode  = "HOLLOW_EXEC_EXIT_CODE"
	EnvHTTPHealthy   = "HOLLOW_HTTP_HEALTHY"
	EnvCPU           = "HOLLOW_CPU"
	EnvMemory        = "HOLLOW_MEMORY"
)

// withEnv returns s overridden by the HOLLOW_* variables of env, or s itself when there are
// none (so containers of one image share their Script).
func withEnv(s *Script, env []string) *Script {
	var out *Script
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "HOLLOW_") {
			continue
		}
		if out == nil {
			c := *s
			out = &c
		}
		applyEnv(out, k, v)
	}
	if out == nil {
		return s
	}
	return out
}

func applyEnv(s *Script, k, v string) {
	switch k {
	case EnvExitCode:
		s.Exit, s.ExitCode = true, atoi(v)
	case EnvRunFor:
		s.Exit, s.RunFor = true, duration(v)
	case EnvOOM:
		s.OOM = truthy(v)
	case EnvIgnoreSIGTERM:
		s.IgnoreSIGTERM = truthy(v)
	case EnvStopAfter:
		s.StopAfter = duration(v)
	case EnvTermExitCode:
		n := atoi(v)
		s.TermExitCode = &n
	case EnvStartError:
		s.StartError = v
	case EnvLogs:
		s.Logs = strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '|' })
	case EnvExecExitCode:
		s.ExecExitCode = atoi(v)
	case EnvHTTPHealthy:
		s.HTTPUnhealthy = !truthy(v)
	case EnvCPU:
		if q, err := resource.ParseQuantity(strings.TrimSpace(v)); err == nil && q.Sign() > 0 {
			s.CPUNanoCores = uint64(q.ScaledValue(resource.Nano))
		}
	case EnvMemory:
		if q, err := resource.ParseQuantity(strings.TrimSpace(v)); err == nil && q.Sign() > 0 {
			s.MemoryBytes = uint64(q.Value())
		}
	}
}

func (s *Script) exits() bool { return s.Exit || s.OOM }

func (s *Script) termExitCode() int {
	if s.TermExitCode != nil {
		return *s.TermExitCode
	}
	return 143
}

func atoi(v string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(v))
	return n
}

func duration(v string) time.Duration {
	v = strings.TrimSpace(v)
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil { // plain seconds
		return time.Duration(f * float64(time.Second))
	}
	return 0
}

func truthy(v string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	return err == nil && b
}
