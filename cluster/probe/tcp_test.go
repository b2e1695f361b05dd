package probe

import (
	"context"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	return host, port
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	host, port := splitAddr(t, l.Addr().String())
	if res, msg, err := TCP(context.Background(), host, port, time.Second); res != Success || err != nil {
		t.Errorf("TCP(listening) = %v, %q, %v; want success", res, msg, err)
	}
	host, port = splitAddr(t, closedAddr(t))
	res, msg, err := TCP(context.Background(), host, port, time.Second)
	if res != Failure || err != nil || !strings.Contains(msg, "connection refused") {
		t.Errorf("TCP(closed) = %v, %q, %v; want failure, connection refused", res, msg, err)
	}
}

// TestTCPTimeout fills the accept queue of a listener that never accepts (backlog 0), so the
// kernel drops further SYNs and a dial can only time out.
func TestTCPTimeout(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("socket: %v", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skipf("bind: %v", err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skipf("listen: %v", err)
	}
	sa, _ := syscall.Getsockname(fd)
	port := sa.(*syscall.SockaddrInet4).Port
	for i := 0; i < 4; i++ { // fill the queue; these may themselves time out
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond); err == nil {
			defer c.Close()
		}
	}
	start := time.Now()
	res, msg, err := TCP(context.Background(), "127.0.0.1", port, 300*time.Millisecond)
	if res == Success {
		t.Skip("the kernel accepted beyond the backlog; no timeout to observe")
	}
	if res != Failure || err != nil || !strings.Contains(msg, "timeout") {
		t.Errorf("TCP(full backlog) = %v, %q, %v; want failure with a timeout", res, msg, err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Errorf("TCP with 300ms timeout took %v", d)
	}
}
