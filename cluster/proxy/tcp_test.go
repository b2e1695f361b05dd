package proxy

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Backend connections carry TCP_USER_TIMEOUT, so one that is writing when its backend's host
// vanishes ends within 20 s instead of ~15 min of retransmissions.
func TestBackendUserTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			time.Sleep(time.Second)
		}
	}()
	d := net.Dialer{Control: backendUserTimeout}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var gerr error
	_ = raw.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT) })
	if gerr != nil || got != 20000 {
		t.Errorf("TCP_USER_TIMEOUT = %d (%v), want 20000 ms", got, gerr)
	}
}
