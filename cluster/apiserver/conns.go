package apiserver

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultMaxConnections is the connection cap when none is configured: half the process's
// open-file limit (the rest is the store's, the clients', Docker's), at least 64.
func DefaultMaxConnections() int {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil || l.Cur == unix.RLIM_INFINITY {
		return 10000
	}
	return max(64, int(l.Cur/2))
}

// connLimiter caps the connections the server holds. At the cap, a new connection takes the
// place of the one idle longest (an HTTP/1 keep-alive between requests, an HTTP/2 connection
// without streams, one that has not sent a request yet): a flood of idle connections then costs the flood its oldest connections
// instead of costing everyone else the file descriptors. When every connection is busy the new
// one is closed. Accept errors are logged (at most once a second), and running out of file
// descriptors closes an idle connection too.
type connLimiter struct {
	net.Listener
	tls *tls.Config // nil: plain connections (tests)
	max int
	log *slog.Logger

	mu      sync.Mutex
	conns   map[net.Conn]*connInfo
	lastLog atomic.Int64 // unix nanos of the last accept error logged
}

type connInfo struct {
	state    http.ConnState
	idleFrom time.Time // when it last went idle or was accepted
}

// newConnLimiter serves TLS on ln with cfg (it must offer "h2" in NextProtos for HTTP/2).
func newConnLimiter(ln net.Listener, cfg *tls.Config, maxConns int, log *slog.Logger) *connLimiter {
	return &connLimiter{Listener: ln, tls: cfg, max: maxConns, log: log, conns: map[net.Conn]*connInfo{}}
}

// Accept returns the next connection, making room for it at the cap.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.acceptError(err)
			return nil, err
		}
		tc := c
		if l.tls != nil {
			tc = tls.Server(tc, l.tls)
		}
		l.mu.Lock()
		if len(l.conns) >= l.max && !l.evictLocked() {
			l.mu.Unlock()
			c.Close()
			l.logf("connection refused: all %d connections busy", l.max)
			continue
		}
		l.conns[tc] = &connInfo{state: http.StateNew, idleFrom: time.Now()}
		l.mu.Unlock()
		return tc, nil
	}
}

// acceptError logs err and, when the process is out of file descriptors, frees one.
func (l *connLimiter) acceptError(err error) {
	if errors.Is(err, net.ErrClosed) {
		return
	}
	l.logf("accept failed: %v", err)
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		l.mu.Lock()
		l.evictLocked()
		l.mu.Unlock()
	}
}

func (l *connLimiter) logf(format string, args ...any) {
	now := time.Now().UnixNano()
	if prev := l.lastLog.Load(); now-prev < int64(time.Second) || !l.lastLog.CompareAndSwap(prev, now) {
		return
	}
	l.log.Warn("API server: "+format, args...)
}

// evictLocked closes the connection idle longest, if any is idle; l.mu is held.
func (l *connLimiter) evictLocked() bool {
	var victim net.Conn
	var since time.Time
	for c, ci := range l.conns {
		if ci.state != http.StateIdle && ci.state != http.StateNew {
			continue
		}
		if victim == nil || ci.idleFrom.Before(since) {
			victim, since = c, ci.idleFrom
		}
	}
	if victim == nil {
		return false
	}
	delete(l.conns, victim)
	victim.Close()
	return true
}

// connState is the http.Server's ConnState hook.
func (l *connLimiter) connState(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ci := l.conns[c]
	if ci == nil {
		return
	}
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
		return
	case http.StateIdle:
		ci.idleFrom = time.Now()
	}
	ci.state = st
}

// open is the number of connections held.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
