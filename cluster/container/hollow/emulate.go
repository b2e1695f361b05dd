package hollow

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drover-ci/drover/cluster/container"
	"github.com/drover-ci/drover/cluster/container/images"
)

// execFunc answers an Exec: the result, how long the command runs, and whether it handled cmd.
type execFunc func(cmd []string, healthy bool) (container.ExecResult, time.Duration, bool)

// emulate returns the behaviour of drover's own test images (cluster/container/images), so
// the conformance suite and node agent tests can use one image name for docker and hollow:
// pause, exit (args, SLEEP, EXIT_CODE, TERM_CODE, IGNORE_TERM, ALLOC_MB, exec modes) and
// testserver (exec probe modes, TERM_DELAY, BURN_CPU). It returns nil for other images.
func emulate(spec container.Spec) *Script {
	switch normalizeImage(spec.Image) {
	case normalizeImage(images.Names["pause"]):
		return &Script{TermExitCode: new(int)}
	case normalizeImage(images.Names["exit"]):
		return exitImage(spec)
	case normalizeImage(images.Names["testserver"]):
		return testServer(spec)
	}
	return nil
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func signalLine(spec container.Spec) string {
	if strings.TrimPrefix(strings.ToUpper(spec.StopSignal), "SIG") == "INT" {
		return "signal: SIGINT"
	}
	return "signal: SIGTERM"
}

// exitImage emulates drover/exit:1 (cluster/container/images/exit).
func exitImage(spec container.Spec) *Script {
	env := envMap(spec.Env)
	termCode := atoi(env["TERM_CODE"])
	s := &Script{
		TermExitCode: &termCode, IgnoreSIGTERM: env["IGNORE_TERM"] == "1",
		TermLogs: []string{signalLine(spec)}, execFn: exitExec(spec.Env),
	}
	args := spec.Cmd
	if len(args) > 0 && args[0] == "exec" { // exec mode as the main process
		res, d, _ := exitExec(spec.Env)(append([]string{"/exit"}, args...), true)
		s.Exit, s.RunFor, s.ExitCode = true, d, res.ExitCode
		s.Logs = strings.Split(strings.TrimSuffix(string(res.Output), "\n"), "\n")
		return s
	}
	if mb := atoi(env["ALLOC_MB"]); mb > 0 && spec.MemoryLimit > 0 && int64(mb)<<20 > spec.MemoryLimit {
		s.OOM = true
		return s
	}
	s.Logs = slices.Clone(args)
	switch sleep := env["SLEEP"]; sleep {
	case "inf":
	case "":
		s.Exit, s.ExitCode = true, atoi(env["EXIT_CODE"])
	default:
		f, err := strconv.ParseFloat(sleep, 64)
		if err != nil {
			s.Logs = append(s.Logs, fmt.Sprintf("bad SLEEP %q", sleep))
			s.Exit, s.ExitCode = true, 2
			break
		}
		s.Exit, s.RunFor, s.ExitCode = true, time.Duration(f*float64(time.Second)), atoi(env["EXIT_CODE"])
	}
	return s
}

// exitExec answers "/exit exec CODE SLEEP WORDS..." and "/exit env"; other binaries exit 127.
func exitExec(env []string) execFunc {
	return func(cmd []string, _ bool) (container.ExecResult, time.Duration, bool) {
		if len(cmd) == 0 || path.Base(cmd[0]) != "exit" {
			return container.ExecResult{ExitCode: 127, Output: []byte("exec: no such file or directory\n")}, 0, true
		}
		args := cmd[1:]
		if len(args) == 1 && args[0] == "env" {
			sorted := slices.Sorted(slices.Values(env))
			return container.ExecResult{Output: []byte(strings.Join(sorted, "\n") + "\n")}, 0, true
		}
		if len(args) == 0 || args[0] != "exec" {
			return container.ExecResult{}, 0, true
		}
		args = args[1:]
		var res container.ExecResult
		var wait time.Duration
		if len(args) > 0 {
			res.ExitCode, args = atoi(args[0]), args[1:]
		}
		if len(args) > 0 {
			wait, args = duration(args[0]), args[1:]
		}
		for _, w := range args {
			res.Output = append(res.Output, w+"\n"...)
		}
		return res, wait, true
	}
}

// testServer emulates drover/testserver:1 as far as no traffic is involved.
func testServer(spec container.Spec) *Script {
	env := envMap(spec.Env)
	port := env["PORT"]
	if port == "" {
		port = "8080"
	}
	var burn uint64
	if c, err := strconv.ParseFloat(env["BURN_CPU"], 64); err == nil && c > 0 {
		burn = uint64(c * 1e9)
	}
	return &Script{
		CPUNanoCores: burn,
		TermExitCode: new(int), StopAfter: duration(env["TERM_DELAY"]),
		Logs: []string{"listening on :" + port}, TermLogs: []string{"terminating"},
		execFn: func(cmd []string, healthy bool) (container.ExecResult, time.Duration, bool) {
			if len(cmd) != 2 || path.Base(cmd[0]) != "testserver" {
				return container.ExecResult{}, 0, false
			}
			ok := map[string]bool{"probe-ok": true, "probe-fail": false, "probe": healthy}
			if v, known := ok[cmd[1]]; known && v {
				return container.ExecResult{Output: []byte("ok\n")}, 0, true
			}
			return container.ExecResult{ExitCode: 1, Output: []byte("fail\n")}, 0, true
		},
	}
}
