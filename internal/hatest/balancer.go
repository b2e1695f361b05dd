package hatest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Balancer is a TCP load balancer on a loopback port in front of several API servers: each
// connection goes to the next backend, in turn, that accepts it (TLS passes through, so the
// servers' certificate must name 127.0.0.1). A backend can be taken out by hand, as a health
// check would, e.g. while its process is paused.
type Balancer struct {
	ln       net.Listener
	backends []string

	mu    sync.Mutex
	next  int
	out   map[string]bool
	conns map[net.Conn]string // forwarded connections: client side "", backend side its address
}

// NewBalancer listens on 127.0.0.1 and forwards to backends until the test ends.
func NewBalancer(t testing.TB, backends []string) *Balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Balancer{ln: ln, backends: backends, out: map[string]bool{}, conns: map[net.Conn]string{}}
	go b.serve()
	t.Cleanup(b.Close)
	return b
}

// Addr is the balancer's "127.0.0.1:PORT".
func (b *Balancer) Addr() string { return b.ln.Addr().String() }

// SetOut takes backend addr out of rotation (out) or puts it back, and with out closes the
// connections already forwarded to it, as a load balancer does when a health check fails.
func (b *Balancer) SetOut(addr string, out bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.out[addr] = out
	if out {
		for c, to := range b.conns {
			if to == addr {
				c.Close()
			}
		}
	}
}

// Close stops listening and closes every forwarded connection.
func (b *Balancer) Close() {
	b.ln.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.conns {
		c.Close()
	}
}

func (b *Balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.forward(c)
	}
}

// candidates returns the backends in rotation, starting with the next one's turn.
func (b *Balancer) candidates() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for i := range b.backends {
		addr := b.backends[(b.next+i)%len(b.backends)]
		if !b.out[addr] {
			out = append(out, addr)
		}
	}
	b.next++
	return out
}

func (b *Balancer) track(c net.Conn, to string, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if on {
		b.conns[c] = to
	} else {
		delete(b.conns, c)
	}
}

func (b *Balancer) forward(c net.Conn) {
	b.track(c, "", true)
	defer b.track(c, "", false)
	defer c.Close()
	var (
		up net.Conn
		to string
	)
	for _, addr := range b.candidates() {
		d, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			up, to = d, addr
			break
		}
	}
	if up == nil {
		return
	}
	b.track(up, to, true)
	defer b.track(up, to, false)
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}
