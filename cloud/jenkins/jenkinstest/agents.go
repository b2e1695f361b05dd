package jenkinstest

import (
	"bufio"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/websocket"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest/agentproto"
)

// agentIdle is how long a connection may stay silent: agents ping every few seconds.
const agentIdle = 60 * time.Second

// agentConn is one connected agent (TCP or WebSocket).
type agentConn struct {
	name string
	rw   io.ReadWriteCloser
	out  chan agentproto.Message
	done chan struct{}
	once sync.Once
}

func newAgentConn(rw io.ReadWriteCloser) *agentConn {
	return &agentConn{rw: rw, out: make(chan agentproto.Message, 256), done: make(chan struct{})}
}

// send queues m; an agent that does not keep up is disconnected.
func (c *agentConn) send(m agentproto.Message) {
	select {
	case c.out <- m:
	case <-c.done:
	default:
		c.close()
	}
}

func (c *agentConn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.rw.Close()
	})
}

// writeLoop writes queued messages until the connection closes.
func (c *agentConn) writeLoop() {
	enc := json.NewEncoder(c.rw)
	for {
		select {
		case m := <-c.out:
			if err := enc.Encode(m); err != nil {
				c.close()
				return
			}
		case <-c.done:
			return
		}
	}
}

// agentListener answers GET /tcpSlaveAgentListener/ as Jenkins 2.376 does:
// 404 with the agent port disabled; only the Ping protocol and no
// X-Instance-Identity without the instance-identity plugin.
func (s *Server) agentListener(w http.ResponseWriter, r *http.Request) {
	if s.noAgentPort {
		notFound(w)
		return
	}
	h := w.Header()
	h[agentproto.HeaderPort] = []string{strconv.Itoa(s.AgentPort())} // exact case, as Jenkins writes it
	if s.noIdentity {
		h.Set(agentproto.HeaderProtocols, agentproto.ProtocolPing)
	} else {
		h.Set(agentproto.HeaderProtocols, agentproto.Protocols)
		h.Set(agentproto.HeaderIdentity, s.identity())
	}
	h.Set("X-Remoting-Minimum-Version", "4.2.1")
	h.Set("Content-Type", "text/plain;charset=utf-8")
	_, _ = io.WriteString(w, "Jenkins\n")
}

// identity is the instance identity public key (base64 X.509
// SubjectPublicKeyInfo), derived from the fake's key so it survives restarts.
func (s *Server) identity() string {
	seed := sha256.Sum256(append([]byte("identity:"), s.key...))
	pub := ed25519.NewKeyFromSeed(seed[:]).Public()
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return base64.StdEncoding.EncodeToString(der)
}

// loginPage answers GET /login (the liveness probe's target).
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	_, _ = io.WriteString(w, "<html><head><title>Sign in [Jenkins]</title></head><body>Sign in to Jenkins</body></html>\n")
}

// admitLocked checks an agent's name and secret as Jenkins' JnlpAgentReceiver does.
func (s *Server) admitLocked(name, secret string) (*node, error) {
	n, ok := s.nodes[name]
	switch {
	case !ok:
		return nil, errors.New("Unknown client name: " + name)
	case !hmac.Equal([]byte(secret), []byte(s.Secret(name))):
		return nil, errors.New("Authorization failure")
	case n.conn != nil:
		return nil, errors.New(name + " is already connected to this controller. Rejecting this connection.")
	}
	return n, nil
}

// register admits c as agent name: the node goes online and, with
// AutoStart, takes queued builds.
func (s *Server) register(c *agentConn, name, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stop:
		return errors.New("Jenkins is shutting down")
	default:
	}
	n, err := s.admitLocked(name, secret)
	if err != nil {
		return err
	}
	c.name = name
	n.conn = c
	n.Connected = true
	s.conns[c] = true
	c.send(agentproto.Message{Type: agentproto.TypeWelcome, Name: name})
	s.log.Info("agent connected", "node", name)
	if s.AutoStart {
		s.startAllLocked()
	}
	s.startTicker()
	return nil
}

// startTicker runs AutoStart every 200 ms (queue maintenance) until Close.
func (s *Server) startTicker() {
	s.tick.Do(func() {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-s.stop:
					return
				case <-t.C:
				}
				s.mu.Lock()
				if s.AutoStart {
					s.startAllLocked()
				}
				s.mu.Unlock()
				s.flush()
			}
		}()
	})
}

// acceptAgents serves the TCP agent port.
func (s *Server) acceptAgents() {
	for {
		conn, err := s.agentLn.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveTCP(conn)
		}()
	}
}

func (s *Server) serveTCP(conn net.Conn) {
	c := newAgentConn(conn)
	r := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var hello agentproto.Message
	line, err := r.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &hello)
	}
	if err == nil && hello.Type != agentproto.TypeHello {
		err = errors.New("expected a hello, got " + strconv.Quote(hello.Type))
	}
	if err == nil && (s.noIdentity || s.noAgentPort) {
		// Without an instance identity Jenkins has no JNLP4-connect handler.
		err = errors.New("Unknown protocol: JNLP4-connect")
	}
	if err == nil {
		err = s.register(c, hello.Name, hello.Secret)
	}
	if err != nil {
		s.log.Warn("agent refused", "node", hello.Name, "remote", conn.RemoteAddr().String(), "err", err)
		_ = json.NewEncoder(conn).Encode(agentproto.Message{Type: agentproto.TypeError, Message: err.Error()})
		conn.Close()
		return
	}
	s.serveAgent(c, r, conn)
}

// wsAgents answers GET /wsagents/: a WebSocket agent named by its headers.
func (s *Server) wsAgents(w http.ResponseWriter, r *http.Request) {
	name, secret := r.Header.Get(agentproto.HeaderNodeName), r.Header.Get(agentproto.HeaderSecret)
	s.mu.Lock()
	_, err := s.admitLocked(name, secret)
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("websocket agent refused", "node", name, "err", err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	w.Header().Set(agentproto.HeaderCapability, r.Header.Get(agentproto.HeaderCapability))
	websocket.Server{Handler: func(ws *websocket.Conn) {
		c := newAgentConn(ws)
		if err := s.register(c, name, secret); err != nil {
			_ = json.NewEncoder(ws).Encode(agentproto.Message{Type: agentproto.TypeError, Message: err.Error()})
			return
		}
		s.serveAgent(c, bufio.NewReader(ws), ws)
	}}.ServeHTTP(w, r)
}

type deadliner interface{ SetReadDeadline(time.Time) error }

// serveAgent reads an admitted agent's messages until the connection drops,
// then takes its node offline.
func (s *Server) serveAgent(c *agentConn, r *bufio.Reader, d deadliner) {
	go c.writeLoop()
	defer s.agentGone(c)
	for {
		_ = d.SetReadDeadline(time.Now().Add(agentIdle))
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var m agentproto.Message
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		switch m.Type {
		case agentproto.TypePing:
			c.send(agentproto.Message{Type: agentproto.TypePong})
		case agentproto.TypeLog:
			s.buildLog(c, m)
		case agentproto.TypeResult:
			s.buildResult(c, m)
		}
	}
}

func (s *Server) agentGone(c *agentConn) {
	c.close()
	s.mu.Lock()
	delete(s.conns, c)
	if n, ok := s.nodes[c.name]; ok && n.conn == c {
		n.conn = nil
		s.disconnectLocked(n)
		s.log.Info("agent disconnected", "node", c.name)
	}
	s.mu.Unlock()
	s.flush()
}

// runningBuildLocked is build m.Job #m.Number if it runs on c's node.
func (s *Server) runningBuildLocked(c *agentConn, m agentproto.Message) *build {
	j, ok := s.jobs[m.Job]
	if !ok {
		return nil
	}
	b := j.builds[m.Number]
	if b == nil || !b.building || b.node != c.name {
		return nil
	}
	return b
}

// maxLogLines bounds a build's console kept in memory.
const maxLogLines = 10000

func (s *Server) buildLog(c *agentConn, m agentproto.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.runningBuildLocked(c, m); b != nil && len(b.log) < maxLogLines {
		b.log = append(b.log, m.Line)
	}
}

func (s *Server) buildResult(c *agentConn, m agentproto.Message) {
	s.mu.Lock()
	if b := s.runningBuildLocked(c, m); b != nil {
		result := m.Result
		if result == "" {
			result = "FAILURE"
		}
		s.finishLocked(b, result)
		s.log.Info("build finished", "job", b.job, "number", b.number, "node", c.name, "result", result)
	}
	s.mu.Unlock()
	s.flush()
}
