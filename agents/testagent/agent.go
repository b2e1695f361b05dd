// Package testagent is a Jenkins inbound agent for tests: it connects to the
// fake Jenkins of cloud/jenkins/jenkinstest with the environment variables and
// command lines of the real jenkins/inbound-agent image, agent.jar and
// swarm-client (see ParseArgs), runs the shell steps of the builds assigned
// to it and reports their results. Killing it closes its connection, so the
// controller sees the node go offline. The wire protocol is
// cloud/jenkins/jenkinstest/agentproto.
//
// cmd/jenkins-agent is the program; the image drover/jenkins-agent-test:1
// holds it as /usr/local/bin/jenkins-agent (entrypoint), /usr/bin/java and
// /usr/local/bin/swarm-client.
package testagent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest/agentproto"
)

// Config is what the agent connects with.
type Config struct {
	URL              string // controller root URL (JENKINS_URL)
	JNLPURL          string // agent.jar -jnlpUrl: URL, name (and secret) come from this file
	Secret           string
	Name             string
	WorkDir          string // builds run in WorkDir/workspace/JOB
	Tunnel           string // HOST:PORT, HOST: or :PORT of the agent port (JENKINS_TUNNEL)
	WebSocket        bool   // connect through GET /wsagents/ (JENKINS_WEB_SOCKET)
	DirectConnection string // HOST:PORT of the agent port, skipping /tcpSlaveAgentListener/
	NoReconnect      bool   // exit 1 when an established connection drops
	JarFile          string // when set, must exist and hold agentproto.JarMarker
	Swarm            *SwarmConfig

	// Out receives the agent's log lines and build output; default os.Stdout.
	Out io.Writer
	// Shell runs build steps: "" = /bin/sh when it exists, else the
	// built-in interpreter; "builtin" always the interpreter.
	Shell string
	// RetryFor bounds how long the agent keeps trying to reach the
	// controller (unreachable, or not answering) before it gives up; default 2 min.
	RetryFor time.Duration
	// RetryEvery is the pause between attempts; default 1 s.
	RetryEvery time.Duration
}

// rejected is a refusal by the controller (wrong secret, unknown node, bad
// request): retrying would not help, so the agent exits non-zero.
type rejected struct{ err error }

func (r *rejected) Error() string { return r.err.Error() }
func (r *rejected) Unwrap() error { return r.err }

// IsRejected reports whether err is the controller refusing the agent.
func IsRejected(err error) bool {
	var r *rejected
	return errors.As(err, &r)
}

type agent struct {
	cfg  Config
	http *http.Client
	out  io.Writer
	outM sync.Mutex
}

func (a *agent) logf(format string, args ...any) {
	a.outM.Lock()
	defer a.outM.Unlock()
	fmt.Fprintf(a.out, format+"\n", args...)
}

// Run connects and serves builds until ctx ends (nil error) or the agent
// gives up: a rejection (IsRejected), the controller unreachable for
// RetryFor, or, with NoReconnect, the connection dropping. A WebSocket
// agent with a tunnel or a direct connection is an *OptionConflict.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.RetryFor == 0 {
		cfg.RetryFor = 2 * time.Minute
	}
	if cfg.RetryEvery == 0 {
		cfg.RetryEvery = time.Second
	}
	if err := cfg.checkWebSocket(); err != nil {
		return err
	}
	a := &agent{cfg: cfg, out: cfg.Out, http: &http.Client{Timeout: 30 * time.Second}}
	if cfg.JarFile != "" {
		if err := checkJar(cfg.JarFile); err != nil {
			return &rejected{err}
		}
	}
	if err := a.retry(ctx, "read the jnlp file", a.readJNLP); err != nil {
		return err
	}
	if cfg.Swarm != nil {
		if err := a.retry(ctx, "register with the swarm plugin", a.registerSwarm); err != nil {
			return err
		}
	}
	if a.cfg.WorkDir != "" {
		if err := os.MkdirAll(a.cfg.WorkDir, 0o755); err != nil {
			return &rejected{fmt.Errorf("work directory: %w", err)}
		}
	}
	for {
		var conn *session
		err := a.retry(ctx, "connect", func(ctx context.Context) error {
			var err error
			conn, err = a.connect(ctx)
			return err
		})
		if ctx.Err() != nil {
			return nil // stopped, maybe while the welcome was on its way
		}
		if err != nil {
			return err
		}
		err = conn.serve(ctx)
		if ctx.Err() != nil {
			return nil
		}
		a.logf("disconnected from the controller: %v", err)
		if a.cfg.NoReconnect {
			return fmt.Errorf("connection lost: %w", err)
		}
	}
}

// retry runs f until it succeeds, is rejected, or RetryFor has passed.
func (a *agent) retry(ctx context.Context, what string, f func(context.Context) error) error {
	deadline := time.Now().Add(a.cfg.RetryFor)
	for {
		err := f(ctx)
		if err == nil || IsRejected(err) || ctx.Err() != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: gave up after %s: %w", what, a.cfg.RetryFor, err)
		}
		a.logf("cannot %s (%v), retrying in %s", what, err, a.cfg.RetryEvery)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(a.cfg.RetryEvery):
		}
	}
}

// checkJar checks that jar is the fake controller's agent.jar.
func checkJar(jar string) error {
	b, err := os.ReadFile(jar)
	if err != nil {
		return fmt.Errorf("Error: Unable to access jarfile %s", jar)
	}
	if !bytes.HasPrefix(b, []byte("PK\x03\x04")) || !bytes.Contains(b, []byte(agentproto.JarMarker)) {
		return fmt.Errorf("Error: Invalid or corrupt jarfile %s (not the controller's agent.jar)", jar)
	}
	return nil
}

// readJNLP fetches -jnlpUrl's file: secret, name and -url, as agent.jar does.
func (a *agent) readJNLP(ctx context.Context) error {
	if a.cfg.JNLPURL == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.JNLPURL, nil)
	if err != nil {
		return &rejected{err}
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("GET %s: %s", a.cfg.JNLPURL, resp.Status)
		if resp.StatusCode < 500 {
			return &rejected{err}
		}
		return err
	}
	args := jnlpArguments(string(b))
	if len(args) < 2 {
		return &rejected{fmt.Errorf("%s: no secret and name in the jnlp file", a.cfg.JNLPURL)}
	}
	if a.cfg.Secret == "" {
		a.cfg.Secret = args[0]
	}
	a.cfg.Name = args[1]
	for i := 2; i+1 < len(args); i++ {
		switch args[i] {
		case "-url":
			a.cfg.URL = args[i+1]
		case "-workDir":
			if a.cfg.WorkDir == "" {
				a.cfg.WorkDir = args[i+1]
			}
		case "-tunnel":
			a.cfg.Tunnel = args[i+1]
		}
	}
	for _, arg := range args {
		if arg == "-webSocket" {
			a.cfg.WebSocket = true
		}
	}
	if a.cfg.URL == "" {
		a.cfg.URL = strings.Split(a.cfg.JNLPURL, "/computer/")[0]
	}
	// agent.jar hands the jnlp file's arguments to jnlp.Main, which refuses
	// -webSocket with -tunnel.
	if err := a.cfg.checkWebSocket(); err != nil {
		return &rejected{err}
	}
	return nil
}

// jnlpArguments are the <argument>s of a jnlp file's <application-desc>.
func jnlpArguments(doc string) []string {
	var f struct {
		Args []string `xml:"application-desc>argument"`
	}
	if xml.Unmarshal([]byte(doc), &f) != nil {
		return nil
	}
	return f.Args
}

// session is one connection to the controller.
type session struct {
	a    *agent
	rw   io.ReadWriteCloser
	r    *bufio.Reader
	encM sync.Mutex
	enc  *json.Encoder
}

func (c *session) send(m agentproto.Message) error {
	c.encM.Lock()
	defer c.encM.Unlock()
	return c.enc.Encode(m)
}

// connect opens a connection (TCP or WebSocket) and waits for the welcome.
func (a *agent) connect(ctx context.Context) (*session, error) {
	var rw io.ReadWriteCloser
	var err error
	if a.cfg.WebSocket {
		rw, err = a.dialWebSocket(ctx)
	} else {
		rw, err = a.dialTCP(ctx)
	}
	if err != nil {
		return nil, err
	}
	c := &session{a: a, rw: rw, r: bufio.NewReader(rw), enc: json.NewEncoder(rw)}
	if !a.cfg.WebSocket {
		if err := c.send(agentproto.Message{Type: agentproto.TypeHello, Name: a.cfg.Name, Secret: a.cfg.Secret,
			Version: agentproto.RemotingVersion}); err != nil {
			rw.Close()
			return nil, err
		}
	}
	if d, ok := rw.(interface{ SetReadDeadline(time.Time) error }); ok {
		_ = d.SetReadDeadline(time.Now().Add(30 * time.Second))
		defer d.SetReadDeadline(time.Time{})
	}
	m, err := c.read()
	if err != nil {
		rw.Close()
		return nil, fmt.Errorf("waiting for the controller's answer: %w", err)
	}
	if m.Type != agentproto.TypeWelcome {
		rw.Close()
		return nil, &rejected{fmt.Errorf("the server rejected the connection: %s", m.Message)}
	}
	a.logf("connected as %s", a.cfg.Name)
	return c, nil
}

func (c *session) read() (agentproto.Message, error) {
	var m agentproto.Message
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(line, &m)
}

// agentAddress finds the agent port as remoting's JnlpAgentEndpointResolver
// does: GET /tcpSlaveAgentListener/, then the tunnel overrides host or port.
func (a *agent) agentAddress(ctx context.Context) (string, error) {
	if a.cfg.DirectConnection != "" {
		return a.cfg.DirectConnection, nil
	}
	u, err := url.Parse(a.cfg.URL)
	if err != nil || u.Host == "" {
		return "", &rejected{fmt.Errorf("bad Jenkins URL %q", a.cfg.URL)}
	}
	probe := strings.TrimSuffix(a.cfg.URL, "/") + "/tcpSlaveAgentListener/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, probe, nil)
	if err != nil {
		return "", &rejected{err}
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	port := resp.Header.Get(agentproto.HeaderPort)
	if resp.StatusCode != http.StatusOK || port == "" {
		return "", fmt.Errorf("%s is invalid: %s", probe, resp.Status)
	}
	if !validIdentity(resp.Header.Get(agentproto.HeaderIdentity)) {
		// remoting's JnlpAgentEndpointResolver; fatal for the agent.
		return "", &rejected{fmt.Errorf("%s appears to be publishing an invalid X-Instance-Identity.", a.cfg.URL)}
	}
	if !strings.Contains(resp.Header.Get(agentproto.HeaderProtocols), "JNLP4-connect") {
		return "", &rejected{fmt.Errorf("the controller offers no JNLP4-connect (%q)", resp.Header.Get(agentproto.HeaderProtocols))}
	}
	host := u.Hostname()
	if h := resp.Header.Get(agentproto.HeaderHost); h != "" {
		host = h
	}
	if a.cfg.Tunnel != "" {
		th, tp, err := net.SplitHostPort(a.cfg.Tunnel)
		if err != nil {
			return "", &rejected{fmt.Errorf("bad tunnel %q: %w", a.cfg.Tunnel, err)}
		}
		if th != "" {
			host = th
		}
		if tp != "" {
			port = tp
		}
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", &rejected{fmt.Errorf("bad agent port %q", port)}
	}
	return net.JoinHostPort(host, port), nil
}

func (a *agent) dialTCP(ctx context.Context) (io.ReadWriteCloser, error) {
	addr, err := a.agentAddress(ctx)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	return d.DialContext(ctx, "tcp", addr)
}

func (a *agent) dialWebSocket(ctx context.Context) (io.ReadWriteCloser, error) {
	u, err := url.Parse(strings.TrimSuffix(a.cfg.URL, "/") + "/wsagents/")
	if err != nil {
		return nil, &rejected{err}
	}
	origin := *u
	origin.Path = "/"
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	cfg, err := websocket.NewConfig(u.String(), origin.String())
	if err != nil {
		return nil, &rejected{err}
	}
	cfg.Header.Set(agentproto.HeaderNodeName, a.cfg.Name)
	cfg.Header.Set(agentproto.HeaderSecret, a.cfg.Secret)
	cfg.Header.Set(agentproto.HeaderCapability, "rO0ABXNyABpodWRzb24ucmVtb3RpbmcuQ2FwYWJpbGl0eQ==")
	cfg.Dialer = &net.Dialer{Timeout: 10 * time.Second}
	ws, err := cfg.DialContext(ctx)
	if err != nil {
		var de *websocket.DialError
		if errors.As(err, &de) && errors.Is(de.Err, websocket.ErrBadStatus) {
			return nil, &rejected{fmt.Errorf("the server rejected the WebSocket connection to %s (handshake: %w)", u, de.Err)}
		}
		return nil, err
	}
	return ws, nil
}

// serve runs assigned builds until the connection drops or ctx ends.
func (c *session) serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		c.rw.Close()
	}()
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if c.send(agentproto.Message{Type: agentproto.TypePing}) != nil {
					cancel()
					return
				}
			}
		}
	}()
	var builds sync.WaitGroup
	defer builds.Wait()
	aborts := map[string]context.CancelFunc{}
	var abortsM sync.Mutex
	for {
		m, err := c.read()
		if err != nil {
			cancel()
			return err
		}
		switch m.Type {
		case agentproto.TypePing:
			_ = c.send(agentproto.Message{Type: agentproto.TypePong})
		case agentproto.TypeAbort:
			abortsM.Lock()
			if f := aborts[fmt.Sprint(m.Job, "#", m.Number)]; f != nil {
				f()
			}
			abortsM.Unlock()
		case agentproto.TypeBuild:
			bctx, bcancel := context.WithCancel(ctx)
			key := fmt.Sprint(m.Job, "#", m.Number)
			abortsM.Lock()
			aborts[key] = bcancel
			abortsM.Unlock()
			builds.Add(1)
			go func() {
				defer builds.Done()
				defer bcancel()
				c.runBuild(bctx, m)
				abortsM.Lock()
				delete(aborts, key)
				abortsM.Unlock()
			}()
		}
	}
}

// validIdentity reports whether an X-Instance-Identity header holds a
// public key (base64 X.509 SubjectPublicKeyInfo), as remoting requires.
func validIdentity(h string) bool {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h))
	if err != nil || len(der) == 0 {
		return false
	}
	_, err = x509.ParsePKIXPublicKey(der)
	return err == nil
}
