// Package jenkinstest is a fake Jenkins 2.376 for tests: an httptest server
// answering the requests of DESIGN §7 as the real controller does (crumbs,
// API tokens, 302s, queue why texts, label expressions, inbound nodes), with
// hooks standing in for agents connecting and builds running. The built-in
// node is listed (first) with no executors; only agent nodes run builds and
// count as "nodes" in the queue's why texts.
package jenkinstest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Version is the Jenkins version the fake imitates (X-Jenkins header).
const Version = "2.376"

// Server is a fake Jenkins controller. Its zero value is not usable: call New.
type Server struct {
	// AutoStart, when set, assigns queued items to free matching agents
	// whenever the queue is read or an agent connects, as Jenkins does.
	AutoStart bool

	http *httptest.Server
	key  []byte // HMAC key of agent secrets

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
}

// New starts a fake Jenkins; Close it when done.
func New() *Server {
	s := &Server{
		key:      []byte("drover-jenkinstest-instance-identity"),
		users:    map[string]user{},
		sessions: map[string]session{},
		nodes:    map[string]*node{},
		jobs:     map[string]*job{},
		nextID:   1,
		now:      time.Now,
	}
	s.http = httptest.NewServer(s.routes())
	return s
}

// URL is the controller's base URL (no trailing slash).
func (s *Server) URL() string { return s.http.URL }

// Close stops the server.
func (s *Server) Close() { s.http.Close() }

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
	m.HandleFunc("POST /job/{job}/build", s.build)
	m.HandleFunc("GET /job/{job}/{num}/api/json", s.buildInfo)
	m.HandleFunc("POST /job/{job}/doDelete", s.deleteJob)
	m.HandleFunc("GET /queue/api/json", s.queueJSON)
	m.HandleFunc("POST /queue/cancelItem", s.cancelItem)
	m.HandleFunc("GET /label/{expr}/api/json", s.label)
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
func (s *Server) redirect(w http.ResponseWriter, path string) {
	w.Header().Set("Location", s.URL()+path)
	w.WriteHeader(http.StatusFound)
}
