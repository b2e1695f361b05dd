package proxy

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// udpIdleTimeout ends a UDP client's session with its backend after this long without a
// datagram either way (the conntrack-like state of kube-proxy's userspace UDP proxy).
const udpIdleTimeout = 30 * time.Second

// udpMaxDatagram is the largest datagram relayed (the IPv4 UDP maximum).
const udpMaxDatagram = 65507

// udpListener relays datagrams on one address to a backend of its balancer: each client
// address gets a session, a socket connected to the backend the balancer picked for it, whose
// answers go back to the client from the service's address.
type udpListener struct {
	pc  net.PacketConn
	b   *balancer
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*udpSession // by client address
	closed   bool
	wg       sync.WaitGroup
}

type udpSession struct {
	backend *net.UDPConn
	mu      sync.Mutex
	last    time.Time
}

// listenUDP starts relaying datagrams sent to addr through b.
func listenUDP(addr string, b *balancer, log *slog.Logger) (*udpListener, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	l := &udpListener{pc: pc, b: b, log: log.With("listen", addr, "protocol", "UDP"), sessions: map[string]*udpSession{}}
	l.wg.Add(1)
	go l.serve()
	return l, nil
}

// close stops relaying, ends every session and waits for their goroutines.
func (l *udpListener) close() {
	l.mu.Lock()
	l.closed = true
	for _, s := range l.sessions {
		s.backend.Close()
	}
	l.mu.Unlock()
	l.pc.Close()
	l.wg.Wait()
}

func (l *udpListener) serve() {
	defer l.wg.Done()
	buf := make([]byte, udpMaxDatagram)
	for {
		n, client, err := l.pc.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.log.Warn("read", "err", err)
			}
			return
		}
		s := l.session(client)
		if s == nil {
			continue
		}
		s.touch()
		if _, err := s.backend.Write(buf[:n]); err != nil {
			l.log.Debug("relaying to the backend", "client", client, "err", err)
		}
	}
}

// session is client's session, made on its first datagram with the backend the balancer
// picks (nil: no backend, or the listener is closing; the datagram is dropped).
func (l *udpListener) session(client net.Addr) *udpSession {
	key := client.String()
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.sessions[key]; s != nil || l.closed {
		return s
	}
	clientIP := ""
	if a, ok := client.(*net.UDPAddr); ok {
		clientIP = a.IP.String()
	}
	for _, backend := range l.b.candidates(clientIP) {
		raddr, err := net.ResolveUDPAddr("udp", backend)
		if err != nil {
			continue
		}
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			l.log.Debug("backend socket", "backend", backend, "err", err)
			continue
		}
		l.b.connected(clientIP, backend)
		s := &udpSession{backend: c, last: time.Now()}
		l.sessions[key] = s
		l.wg.Add(1)
		go l.answer(key, client, s)
		return s
	}
	l.log.Debug("no backend for the datagram", "client", client)
	return nil
}

// answer relays the backend's datagrams to the client until the session is idle for
// udpIdleTimeout or the listener closes.
func (l *udpListener) answer(key string, client net.Addr, s *udpSession) {
	defer l.wg.Done()
	defer func() {
		l.mu.Lock()
		if l.sessions[key] == s {
			delete(l.sessions, key)
		}
		l.mu.Unlock()
		s.backend.Close()
	}()
	buf := make([]byte, udpMaxDatagram)
	for {
		_ = s.backend.SetReadDeadline(s.lastSeen().Add(udpIdleTimeout))
		n, err := s.backend.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Since(s.lastSeen()) < udpIdleTimeout {
				continue // the client spoke since the deadline was set
			}
			return
		}
		s.touch()
		if _, err := l.pc.WriteTo(buf[:n], client); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Debug("relaying to the client", "client", client, "err", err)
		}
	}
}

func (s *udpSession) touch() {
	s.mu.Lock()
	s.last = time.Now()
	s.mu.Unlock()
}

func (s *udpSession) lastSeen() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}
