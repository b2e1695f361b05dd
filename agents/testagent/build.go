package testagent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest/agentproto"
)

// runBuild runs build m's shell steps in order (stopping at the first that
// fails, as Jenkins does) and reports the result.
func (c *session) runBuild(ctx context.Context, m agentproto.Message) {
	a := c.a
	a.logf("build %s #%d started", m.Job, m.Number)
	ws := filepath.Join(a.cfg.WorkDir, "workspace", m.Job)
	_ = os.MkdirAll(ws, 0o755)
	env := os.Environ()
	for k, v := range m.Env {
		env = append(env, k+"="+v)
	}
	env = append(env, "WORKSPACE="+ws)
	logLine := func(line string) {
		a.logf("[%s #%d] %s", m.Job, m.Number, line)
		_ = c.send(agentproto.Message{Type: agentproto.TypeLog, Job: m.Job, Number: m.Number, Line: line})
	}
	result := "SUCCESS"
	for _, cmd := range m.Commands {
		code := a.runStep(ctx, cmd, ws, env, logLine)
		if ctx.Err() != nil {
			result = "ABORTED"
			break
		}
		if code != 0 {
			logLine(fmt.Sprintf("Build step 'Execute shell' marked build as failure (exit code %d)", code))
			result = "FAILURE"
			break
		}
	}
	a.logf("build %s #%d finished: %s", m.Job, m.Number, result)
	_ = c.send(agentproto.Message{Type: agentproto.TypeResult, Job: m.Job, Number: m.Number, Result: result})
}

// runStep runs one shell step and returns its exit code.
func (a *agent) runStep(ctx context.Context, script, dir string, env []string, logLine func(string)) int {
	if a.cfg.Shell != "builtin" {
		if _, err := os.Stat("/bin/sh"); err == nil {
			return runSh(ctx, script, dir, env, logLine)
		}
	}
	return interpret(ctx, script, dir, env, logLine)
}

// runSh runs script with /bin/sh -xe, as Jenkins' Shell builder does.
func runSh(ctx context.Context, script, dir string, env []string, logLine func(string)) int {
	cmd := exec.Command("/bin/sh", "-xe", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	// Its own process group, killed with the agent (Pdeathsig) or on abort.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			logLine(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	if err := cmd.Start(); err != nil {
		pw.Close()
		wg.Wait()
		logLine("sh: " + err.Error())
		return 127
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-done:
		}
	}()
	err := cmd.Wait()
	close(done)
	pw.Close()
	wg.Wait()
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if code := ee.ExitCode(); code >= 0 {
			return code
		}
		return 137
	}
	return 1
}

// interpret runs script without a shell (a FROM-scratch image): statements
// separated by newlines, ";" or "&&", each `sleep N`, `echo WORDS` (also
// `> FILE` or `>> FILE`), `cat FILE`, `test -f|-e|-d PATH`, `mkdir -p DIR`,
// `env`, `exit N`, `true`, `false` or `:`, with $VAR and ${VAR} taken from env and
// relative paths taken from dir (the workspace). Like `sh -e`, the first
// failing statement ends the step with its status; an unknown command is 127.
func interpret(ctx context.Context, script, dir string, env []string, logLine func(string)) int {
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	for _, stmt := range splitStatements(script) {
		words := splitWords(os.Expand(stmt, func(k string) string { return vars[k] }))
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		logLine("+ " + strings.Join(words, " "))
		code := 0
		switch words[0] {
		case "true", ":":
		case "false":
			code = 1
		case "echo", "cat", "test", "mkdir":
			code = fileCommand(words, dir, logLine)
		case "env":
			for _, kv := range env {
				logLine(kv)
			}
		case "sleep":
			secs := 0.0
			if len(words) > 1 {
				secs, _ = strconv.ParseFloat(strings.TrimSuffix(words[1], "s"), 64)
			}
			select {
			case <-ctx.Done():
				return 137
			case <-time.After(time.Duration(secs * float64(time.Second))):
			}
		case "exit":
			if len(words) > 1 {
				code, _ = strconv.Atoi(words[1])
			}
			return code
		default:
			logLine("sh: 1: " + words[0] + ": not found")
			code = 127
		}
		if code != 0 {
			return code
		}
	}
	return 0
}

// splitStatements cuts script at newlines, ";" and "&&" outside quotes.
func splitStatements(script string) []string {
	var out []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(script); i++ {
		ch := script[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '\n' || ch == ';':
			out = append(out, cur.String())
			cur.Reset()
			continue
		case ch == '&' && i+1 < len(script) && script[i+1] == '&':
			out = append(out, cur.String())
			cur.Reset()
			i++
			continue
		}
		cur.WriteByte(ch)
	}
	return append(out, cur.String())
}

// splitWords splits a statement into words, removing quotes.
func splitWords(stmt string) []string {
	var words []string
	var cur strings.Builder
	var quote byte
	in := false
	for i := 0; i < len(stmt); i++ {
		ch := stmt[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case ch == '\'' || ch == '"':
			quote, in = ch, true
		case ch == ' ' || ch == '\t' || ch == '\r':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}
