package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tcpListener accepts connections on one address and splices each to a backend of its balancer.
type tcpListener struct {
	ln          net.Listener
	b           *balancer
	dialTimeout time.Duration
	log         *slog.Logger
	ctx         context.Context
	cancel      context.CancelFunc

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// listenTCP starts serving addr through b.
func listenTCP(addr string, b *balancer, dialTimeout time.Duration, log *slog.Logger) (*tcpListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &tcpListener{ln: ln, b: b, dialTimeout: dialTimeout, log: log.With("listen", addr),
		ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.serve()
	return l, nil
}

// close stops accepting, ends the open connections and waits for their goroutines.
func (l *tcpListener) close() {
	l.cancel()
	l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *tcpListener) serve() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.log.Warn("accept", "err", err)
			}
			return
		}
		if !l.track(c) {
			c.Close()
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer l.untrack(c)
			l.handle(c)
		}()
	}
}

// track registers an open connection; false once the listener is closing.
func (l *tcpListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx.Err() != nil {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *tcpListener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	c.Close()
}

// handle connects a client to the first backend that accepts and copies both ways.
func (l *tcpListener) handle(client net.Conn) {
	clientIP := ""
	if a, ok := client.RemoteAddr().(*net.TCPAddr); ok {
		clientIP = a.IP.String()
	}
	d := net.Dialer{Timeout: l.dialTimeout, KeepAliveConfig: backendKeepAlive, Control: backendUserTimeout}
	for _, backend := range l.b.candidates(clientIP) {
		c, err := d.DialContext(l.ctx, "tcp", backend)
		if err != nil {
			l.log.Debug("backend did not accept", "backend", backend, "err", err)
			continue
		}
		l.b.connected(clientIP, backend)
		if !l.track(c) {
			c.Close()
			return
		}
		defer l.untrack(c)
		splice(client, c)
		return
	}
	l.log.Debug("no backend accepted the connection", "client", client.RemoteAddr())
}

// backendKeepAlive ends a spliced connection within about 20 s of its backend's host going
// away (a lost node: no FIN or RST ever comes), so idle clients such as build agents holding
// a tunnel notice and reconnect through the service to the replacement. A live backend
// answers the probes, so a slow or unready one keeps its connections.
var backendKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 5 * time.Second, Count: 3}

// backendUserTimeout sets TCP_USER_TIMEOUT on backend connections: Linux sends no keepalive
// probes while sent data is unacknowledged, so a connection that is writing when its backend's
// host vanishes would otherwise live until the retransmissions give up (~15 min); with it,
// unacknowledged data older than 20 s ends the connection as the keepalive does an idle one.
func backendUserTimeout(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 20000)
	}); err != nil {
		return err
	}
	return serr
}

// splice copies a→b and b→a, passing each side's end of stream on as a half close.
func splice(a, b net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(b, a)
		closeWrite(b)
	}()
	_, _ = io.Copy(a, b)
	closeWrite(a)
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		return
	}
	c.Close()
}
