package runtimetest

import (
	"bytes"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"

	"github.com/drover-ci/drover/internal/logtest"
)

func (s *suite) testExecStream(t *testing.T) {
	id := s.run(t, s.exitSpec(t, []string{"SLEEP=inf"}))
	s.waitState(t, id, container.StateRunning)
	var out, errOut bytes.Buffer
	code, err := s.rt.ExecStream(s.ctx(t), id, []string{"/exit", "exec", "3", "0", "hello", "world"}, container.Streams{Stdout: &out, Stderr: &errOut})
	if err != nil || code != 3 || out.String() != "hello\nworld\n" || errOut.Len() != 0 {
		t.Errorf("ExecStream = %d %v, stdout %q stderr %q; want 3, %q and nothing", code, err, out.String(), errOut.String(), "hello\nworld\n")
	}
	s.rt.Stop(s.ctx(t), id, time.Second)
	s.waitState(t, id, container.StateExited)
	if _, err := s.rt.ExecStream(s.ctx(t), id, []string{"/exit", "exec", "0", "0"}, container.Streams{Stdout: &out}); err == nil {
		t.Errorf("ExecStream in an exited container succeeded")
	}
	if _, err := s.rt.ExecStream(s.ctx(t), "no-such-container-"+s.runID, []string{"/exit"}, container.Streams{Stdout: &out}); !isNotFound(err) {
		t.Errorf("ExecStream in an unknown container: %v, want ErrNotFound", err)
	}
}

// testExecStdin sends stdin through cat in the shell image: its end closes the process's
// stdin, and everything comes back.
func (s *suite) testExecStdin(t *testing.T) {
	if ok, err := s.rt.ImagePresent(s.ctx(t), s.opts.ShellImage); err != nil || !ok {
		if os.Getenv("DROVER_E2E") == "1" {
			t.Fatalf("image %s missing (scripts/images.sh builds it; DROVER_E2E=1 requires it)", s.opts.ShellImage)
		}
		t.Skipf("image %s missing (scripts/images.sh builds it)", s.opts.ShellImage)
	}
	id := s.run(t, container.Spec{Name: s.name(t), Image: s.opts.ShellImage, Cmd: []string{"sleep", "1000"},
		Labels: map[string]string{RunLabel: s.runID}})
	s.waitState(t, id, container.StateRunning)
	var out bytes.Buffer
	in := strings.Repeat("round trip\n", 10000)
	code, err := s.rt.ExecStream(s.ctx(t), id, []string{"cat"}, container.Streams{Stdin: strings.NewReader(in), Stdout: &out})
	if err != nil || code != 0 || out.String() != in {
		t.Errorf("ExecStream cat = %d %v, %d bytes back; want 0 and the %d bytes sent", code, err, out.Len(), len(in))
	}
}

// testAttach attaches to a running container, stops it, and sees the line it prints on the
// stop signal; Attach returns once the container has exited.
func (s *suite) testAttach(t *testing.T) {
	id := s.run(t, s.exitSpec(t, []string{"SLEEP=inf"}))
	s.waitState(t, id, container.StateRunning)
	var out logtest.Buffer
	done := make(chan error, 1)
	go func() { done <- s.rt.Attach(s.ctx(t), id, container.Streams{Stdout: &out, Stderr: &out}) }()
	// The attach is in place once the engine answered it; stopping before that loses the line,
	// so stop again until it shows (Stop of an exited container succeeds).
	deadline := time.Now().Add(s.opts.Timeout)
	for !strings.Contains(out.String(), "signal: SIGTERM") {
		if time.Now().After(deadline) {
			t.Fatalf("attach saw %q, want the stop signal's line", out.String())
		}
		if c, _ := s.rt.Inspect(s.ctx(t), id); c.State == container.StateExited {
			// Too early: the attach missed it. Start over.
			s.rt.Start(s.ctx(t), id)
			s.waitState(t, id, container.StateRunning)
			select {
			case <-done:
			case <-time.After(s.opts.Timeout):
				t.Fatal("Attach did not return after the container exited")
			}
			go func() { done <- s.rt.Attach(s.ctx(t), id, container.Streams{Stdout: &out, Stderr: &out}) }()
		}
		time.Sleep(100 * time.Millisecond)
		go s.rt.Stop(s.ctx(t), id, 5*time.Second)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Attach: %v", err)
		}
	case <-time.After(s.opts.Timeout):
		t.Fatal("Attach did not return after the container exited")
	}
}

// testPortForward reaches a port of a pod through its infra container.
func (s *suite) testPortForward(t *testing.T) {
	if s.opts.NoTraffic {
		t.Skip("runtime moves no traffic")
	}
	pod := s.pause(t, "")
	s.waitState(t, pod.id, container.StateRunning)
	s.run(t, container.Spec{Name: s.name(t), Image: s.opts.ServerImage, Env: []string{"PORT=8089"},
		NetworkMode: "container:" + pod.id})
	deadline := time.Now().Add(s.opts.Timeout)
	for {
		got, err := s.forwardGet(t, pod.id, 8089, "/healthz")
		if err == nil && strings.HasSuffix(got, "\r\n\r\nok\n") && strings.HasPrefix(got, "HTTP/1.0 200") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /healthz through PortForward = %q, %v", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := s.forwardGet(t, pod.id, 8090, "/healthz"); err == nil {
		t.Errorf("PortForward to a port nothing listens on succeeded")
	}
}

func (s *suite) forwardGet(t *testing.T, infra string, port int, path string) (string, error) {
	local, remote := net.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- s.rt.PortForward(s.ctx(t), infra, port, remote) }()
	go func() {
		_, _ = io.WriteString(local, "GET "+path+" HTTP/1.0\r\nHost: x\r\n\r\n")
	}()
	b, _ := io.ReadAll(local)
	local.Close()
	return string(b), <-errc
}
