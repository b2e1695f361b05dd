// Package jenkinstest is a fake Jenkins 2.376 for tests: an httptest server
// answering the requests of DESIGN §7 as the real controller does (crumbs,
// API tokens, 302s, queue why texts, label expressions, inbound nodes), with
// hooks standing in for agents connecting and builds running. The built-in
// node is listed (first) with no executors; only agent nodes run builds and
// count as "nodes" in the queue's why texts.
package jenkinstest

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Version is the Jenkins version the fake imitates (X-Jenkins header).
const Version = "2.376"

// Server is a fake Jenkins controller. Its zero value is not usable: call New.
type Server struct {
	// AutoStart, when set, assigns queued items to free matching agents
	// whenever the queue is read or an agent connects, as Jenkins does.
	// Set it before agents connect (or use Options.AutoStart): with real
	// agents it is also applied every 200 ms.
	AutoStart bool

	opts    Options
	httpSrv *http.Server
	httpLn  net.Listener
	agentLn net.Listener
	key     []byte // HMAC key of agent secrets
	log     *slog.Logger
	stop    chan struct{}
	wg      sync.WaitGroup
	tick    sync.Once
	saveMu  sync.Mutex

	mu       sync.Mutex
	users    map[string]user
	sessions map[string]session // JSESSIONID → crumb and user
	nodes    map[string]*node
	order    []string // node names in creation order
	jobs     map[string]*job
	queue    []*item
	nextID   int64
	requests []string
	now      func() time.Time
	conns    map[*agentConn]bool // connected agents
	dirty    bool                // state changed since the last save

	left          []*item       // items that left the queue, newest last (see maxLeft)
	pendingWindow time.Duration // see SetPendingWindow
	noIdentity    bool          // see Options.NoInstanceIdentity
	noAgentPort   bool          // see Options.DisableAgentPort
}

// Options configure a fake started with Start.
type Options struct {
	// Addr is the HTTP listen address; default "127.0.0.1:0". Agent
	// containers on a Docker bridge need "0.0.0.0:0" or the gateway's IP.
	Addr string
	// AgentAddr is the agent (TCP) listen address; default Addr's host, port 0.
	AgentAddr string
	// AgentPort is the port advertised in X-Jenkins-JNLP-Port; default the
	// agent listener's own port (set it when agents reach a published port).
	AgentPort int
	// URL is the root URL put in Location headers, jnlp files and build
	// URLs; default: taken from each request's Host, as Jenkins does with
	// no root URL configured (URL() then answers the listener's address).
	URL string
	// AutoStart sets Server.AutoStart before anything is served.
	AutoStart bool
	// Users are added as by AddUser.
	Users []User
	// StateFile, when set, is loaded at start (if it exists) and rewritten
	// after every change: nodes, jobs, builds, build numbers and the queue.
	StateFile string
	// Logger receives agent connections and builds; default discards.
	Logger *slog.Logger
	// PendingWindow is how long an item an executor took stays listed in
	// the queue with "pending": true (as on a real Jenkins); 0 means
	// DefaultPendingWindow, a negative value turns the window off.
	PendingWindow time.Duration
	// NoInstanceIdentity imitates a controller without the instance-identity
	// plugin (the official jenkins/jenkins image with the setup wizard off):
	// GET /tcpSlaveAgentListener/ offers "X-Jenkins-Agent-Protocols: Ping"
	// only and no X-Instance-Identity, the agent port refuses JNLP4-connect
	// agents; WebSocket agents still connect.
	NoInstanceIdentity bool
	// DisableAgentPort imitates a controller whose TCP agent port is off:
	// GET /tcpSlaveAgentListener/ answers 404, the agent port refuses
	// agents; WebSocket agents still connect.
	DisableAgentPort bool
}

// User is a Jenkins user: a password (POSTs then need a crumb) and/or an API token.
type User struct{ Name, Password, Token string }

// New starts a fake Jenkins on 127.0.0.1 (HTTP and agent port); Close it
// when done. It panics if it cannot listen, as httptest.NewServer does.
func New() *Server {
	s, err := Start(Options{})
	if err != nil {
		panic(err)
	}
	return s
}

// NewAt starts a fake Jenkins whose HTTP side listens on addr (the agent
// port on the same host, any port).
func NewAt(addr string) (*Server, error) { return Start(Options{Addr: addr}) }

// Start starts a fake Jenkins with o; Close it when done.
func Start(o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.AgentAddr == "" {
		host, _, err := net.SplitHostPort(o.Addr)
		if err != nil {
			return nil, fmt.Errorf("jenkinstest: listen address %q: %w", o.Addr, err)
		}
		o.AgentAddr = net.JoinHostPort(host, "0")
	}
	o.URL = strings.TrimSuffix(o.URL, "/")
	s := &Server{
		AutoStart: o.AutoStart,
		opts:      o,
		key:       []byte("drover-jenkinstest-instance-identity"),
		log:       o.Logger,
		stop:      make(chan struct{}),
		users:     map[string]user{},
		sessions:  map[string]session{},
		nodes:     map[string]*node{},
		jobs:      map[string]*job{},
		nextID:    1,
		now:       time.Now,
		conns:     map[*agentConn]bool{},

		pendingWindow: pendingWindowOf(o),
		noIdentity:    o.NoInstanceIdentity,
		noAgentPort:   o.DisableAgentPort,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, u := range o.Users {
		s.users[u.Name] = user{password: u.Password, token: u.Token}
	}
	if o.StateFile != "" {
		if err := s.load(o.StateFile); err != nil {
			return nil, err
		}
	}
	var err error
	if s.httpLn, err = net.Listen("tcp", o.Addr); err != nil {
		return nil, fmt.Errorf("jenkinstest: %w", err)
	}
	if s.agentLn, err = net.Listen("tcp", o.AgentAddr); err != nil {
		s.httpLn.Close()
		return nil, fmt.Errorf("jenkinstest: agent port: %w", err)
	}
	s.httpSrv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); _ = s.httpSrv.Serve(s.httpLn) }()
	go func() { defer s.wg.Done(); s.acceptAgents() }()
	if o.AutoStart {
		s.startTicker()
	}
	return s, nil
}

// URL is the controller's base URL (no trailing slash): Options.URL, else
// http://HOST:PORT of the listener (127.0.0.1 when it listens on all addresses).
func (s *Server) URL() string {
	if s.opts.URL != "" {
		return s.opts.URL
	}
	return "http://" + reachable(s.httpLn.Addr())
}

// AgentPort is the port advertised to agents in X-Jenkins-JNLP-Port.
func (s *Server) AgentPort() int {
	if s.opts.AgentPort != 0 {
		return s.opts.AgentPort
	}
	return s.agentLn.Addr().(*net.TCPAddr).Port
}

// AgentListenAddr is the agent listener's address (HOST:PORT, 127.0.0.1
// when it listens on all addresses), whatever AgentPort advertises.
func (s *Server) AgentListenAddr() string { return reachable(s.agentLn.Addr()) }

// reachable turns an unspecified listen address into a loopback one.
func reachable(a net.Addr) string {
	t := a.(*net.TCPAddr)
	ip := t.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(t.Port))
}

// rootURL is the root URL as seen by request r (no trailing slash).
func (s *Server) rootURL(r *http.Request) string {
	if s.opts.URL != "" || r == nil || r.Host == "" {
		return s.URL()
	}
	return "http://" + r.Host
}

// Close stops the server: agents are disconnected, the state (with a
// StateFile) is saved once more.
func (s *Server) Close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	_ = s.httpSrv.Close()
	_ = s.agentLn.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.flush()
}

// Requests returns "METHOD /path" of every request served so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *Server) routes() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/json", s.root)
	m.HandleFunc("GET /crumbIssuer/api/json", s.crumbIssuer)
	m.HandleFunc("POST /computer/doCreateItem", s.createNode)
	m.HandleFunc("GET /computer/api/json", s.computers)
	m.HandleFunc("GET /computer/{name}/api/json", s.computer)
	m.HandleFunc("GET /computer/{name}/jenkins-agent.jnlp", s.jnlp)
	m.HandleFunc("GET /computer/{name}/slave-agent.jnlp", s.jnlp)
	m.HandleFunc("POST /computer/{name}/toggleOffline", s.toggleOffline)
	m.HandleFunc("POST /computer/{name}/doDelete", s.deleteNode)
	m.HandleFunc("POST /createItem", s.createJob)
	m.HandleFunc("GET /job/{job}/api/json", s.jobInfo)
	m.HandleFunc("POST /job/{job}/build", s.build)
	m.HandleFunc("POST /job/{job}/buildWithParameters", s.buildWithParameters)
	m.HandleFunc("GET /job/{job}/{num}/api/json", s.buildInfo)
	m.HandleFunc("POST /job/{job}/doDelete", s.deleteJob)
	m.HandleFunc("GET /queue/api/json", s.queueJSON)
	m.HandleFunc("POST /queue/cancelItem", s.cancelItem)
	m.HandleFunc("GET /queue/item/{id}/api/json", s.queueItem)
	m.HandleFunc("GET /label/{expr}/api/json", s.label)
	m.HandleFunc("GET /job/{job}/{num}/consoleText", s.consoleText)
	m.HandleFunc("POST /job/{job}/{num}/stop", s.stopBuild)
	m.HandleFunc("GET /tcpSlaveAgentListener/", s.agentListener)
	m.HandleFunc("GET /wsagents/", s.wsAgents)
	m.HandleFunc("GET /jnlpJars/{jar}", s.jar)
	m.HandleFunc("POST /plugin/swarm/createSlave", s.swarmCreate)
	m.HandleFunc("GET /login", s.loginPage)
	return s.authenticate(m)
}

func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, map[string]any{
		"_class": "hudson.model.Hudson", "mode": "NORMAL", "nodeDescription": "the Jenkins controller's built-in node",
		"nodeName": "", "numExecutors": 0, "useCrumbs": true, "useSecurity": true,
		"jobs": s.jobList(),
	})
}

// writeJSON answers 200 with v filtered by the request's tree parameter.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	if t := r.URL.Query().Get("tree"); t != "" {
		v = parseTree(t).filter(v)
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// notFound answers as Jenkins does for a missing object.
func notFound(w http.ResponseWriter) {
	http.Error(w, "Not Found", http.StatusNotFound)
}

// redirect answers 302 like Stapler's form actions.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, path string) {
	w.Header().Set("Location", s.rootURL(r)+path)
	w.WriteHeader(http.StatusFound)
}
