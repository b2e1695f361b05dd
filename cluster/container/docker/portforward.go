package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/drover-ci/drover/cluster/container"
)

// PortForward dials port on the loopback address inside the network namespace of the running
// container id (the pod's infra container: every container of the pod shares it), as
// containerd's CRI plugin does, and copies stream to and from it. So a port the pod serves on
// 127.0.0.1 only is reached too. It needs the privilege to enter the namespace (root); the
// node agent has it.
func (r *Runtime) PortForward(ctx context.Context, id string, port int, stream io.ReadWriteCloser) error {
	defer stream.Close()
	c, err := r.Inspect(ctx, id)
	if err != nil {
		return err
	}
	if c.State != container.StateRunning || c.Pid == 0 {
		return fmt.Errorf("docker: port-forward to %s: container is not running", id)
	}
	conn, err := dialInNetns(ctx, c.Pid, port)
	if err != nil {
		return fmt.Errorf("docker: port-forward to port %d of %s: %w", port, id, err)
	}
	defer conn.Close()
	return pipe(conn, stream)
}

// dialInNetns connects to 127.0.0.1:port in the network namespace of process pid. The dial
// runs on an OS thread of its own that enters the namespace and is never used again: the
// goroutine keeps it locked, so the runtime ends the thread with it.
func dialInNetns(ctx context.Context, pid, port int) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("pod network namespace: %w", err)}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread() // the thread is still in the host's namespace
			ch <- result{err: fmt.Errorf("enter pod network namespace: %w", err)}
			return
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		ch <- result{conn, err}
	}()
	res := <-ch
	return res.conn, res.err
}

// pipe copies stream into conn (half-closing conn at stream's end) and conn's answer back
// until conn ends, then closes both. A connection the pod resets is an ordinary end. Whatever
// the client still sends once conn is gone is read and dropped: a stream nobody reads stalls
// the SPDY connection's frame worker it hashes to, and with it every stream on that worker.
func pipe(conn net.Conn, stream io.ReadWriteCloser) error {
	go func() {
		if _, err := io.Copy(conn, stream); err != nil {
			_, _ = io.Copy(io.Discard, stream)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, err := io.Copy(stream, conn)
	stream.Close()
	conn.Close()
	if err == nil || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
