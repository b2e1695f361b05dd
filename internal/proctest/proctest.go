// Package proctest holds what test harnesses that run drover as real processes share: building
// the drover binary, running a command in a process group of its own with its output in a log
// file, ending that group (signal, grace period, SIGKILL), reading the end of a log, and
// finding the project's private Docker engine.
package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// BuildDrover compiles cmd/drover (static, CGO_ENABLED=0, as released) into dir/drover and
// returns the binary's path.
func BuildDrover(dir string) (string, error) {
	bin := filepath.Join(dir, "drover")
	// -buildvcs=auto: the commit and its time reach `drover version` and /version even where
	// GOFLAGS turns VCS stamping off (the binary is built in the checkout).
	cmd := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, "github.com/drover-ci/drover/cmd/drover")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cmd/drover: %w\n%s", err, out)
	}
	return bin, nil
}

// Start runs cmd in a process group of its own with stdout and stderr going to logf. The
// returned channel is closed once the process has exited and logf is closed; on error logf is
// closed at once.
func Start(cmd *exec.Cmd, logf *os.File) (<-chan struct{}, error) {
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	return done, nil
}

// Kill sends SIGKILL to cmd's process group (a crash) and waits until done is closed.
func Kill(cmd *exec.Cmd, done <-chan struct{}) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// Signal sends sig to cmd's process group, and SIGCONT in case the group is stopped, then
// waits as WaitOrKill does.
func Signal(cmd *exec.Cmd, done <-chan struct{}, sig syscall.Signal, grace time.Duration) {
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, sig)
	_ = syscall.Kill(-pid, syscall.SIGCONT)
	WaitOrKill(cmd, done, grace)
}

// WaitOrKill waits up to grace for done to be closed, then sends SIGKILL to cmd's process
// group and waits until done is closed.
func WaitOrKill(cmd *exec.Cmd, done <-chan struct{}, grace time.Duration) {
	select {
	case <-done:
		return
	case <-time.After(grace):
	}
	Kill(cmd, done)
}

// TailLines returns the last n lines of the file at path ("" when it cannot be read).
func TailLines(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// PrivateDockerSocket is where scripts/docker-up.sh's dockerd listens.
const PrivateDockerSocket = "/tmp/drover-docker/docker.sock"

// UsePrivateDocker sets DOCKER_HOST to the private engine (scripts/docker-up.sh) when
// DOCKER_HOST is unset and the engine's socket exists.
func UsePrivateDocker() {
	if os.Getenv("DOCKER_HOST") != "" {
		return
	}
	if _, err := os.Stat(PrivateDockerSocket); err == nil {
		os.Setenv("DOCKER_HOST", "unix://"+PrivateDockerSocket)
	}
}

// UnmountUnder detaches what is still mounted below dir — the tmpfs of secret and token volumes
// of pods whose drover was stopped or killed — deepest first, so a test's temporary directory
// can be removed.
func UnmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
}
