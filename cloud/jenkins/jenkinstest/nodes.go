package jenkinstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

type node struct {
	Node
	running []*build   // one slot per executor; nil = idle
	conn    *agentConn // the connected agent; nil with ConnectAgent or offline
}

// Node is a snapshot of a fake agent node, as created by doCreateItem.
type Node struct {
	Name               string
	Description        string
	RemoteFS           string
	Labels             []string
	Executors          int
	Mode               string
	WebSocket          bool
	Connected          bool
	TemporarilyOffline bool
	OfflineMessage     string
}

// Node returns a snapshot of node name.
func (s *Server) Node(name string) (Node, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[name]
	if !ok {
		return Node{}, false
	}
	snap := n.Node
	snap.Labels = append([]string(nil), n.Labels...)
	return snap, true
}

// ConnectAgent brings node name online, as an inbound agent connecting does.
func (s *Server) ConnectAgent(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[name]
	if !ok {
		return fmt.Errorf("jenkinstest: no node %q", name)
	}
	n.Connected = true
	if s.AutoStart {
		s.startAllLocked()
	}
	return nil
}

// DisconnectAgent takes node name offline; builds running on it fail.
func (s *Server) DisconnectAgent(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[name]
	if !ok {
		return fmt.Errorf("jenkinstest: no node %q", name)
	}
	if n.conn != nil {
		n.conn.close()
		n.conn = nil
	}
	s.disconnectLocked(n)
	return nil
}

// disconnectLocked takes n offline; its running builds end FAILURE, as
// freestyle builds do when the channel closes.
func (s *Server) disconnectLocked(n *node) {
	n.Connected = false
	for i, b := range n.running {
		if b != nil {
			b.finish("FAILURE")
			b.log = append(b.log, "FATAL: channel is already closed: agent "+n.Name+" disconnected")
			n.running[i] = nil
			s.dirty = true
		}
	}
}

// createForm is the json field of POST /computer/doCreateItem.
type createForm struct {
	Name         string `json:"name"`
	Description  string `json:"nodeDescription"`
	NumExecutors string `json:"numExecutors"`
	RemoteFS     string `json:"remoteFS"`
	LabelString  string `json:"labelString"`
	Mode         string `json:"mode"`
	Type         string `json:"type"`
	Launcher     struct {
		StaplerClass string `json:"stapler-class"`
		WebSocket    bool   `json:"webSocket"`
	} `json:"launcher"`
}

func (s *Server) createNode(w http.ResponseWriter, r *http.Request) {
	var f createForm
	if err := json.Unmarshal([]byte(r.FormValue("json")), &f); err != nil {
		http.Error(w, "bad json: "+err.Error(), http.StatusBadRequest)
		return
	}
	name := r.FormValue("name")
	execs, err := strconv.Atoi(f.NumExecutors)
	switch {
	case name == "" || f.Name != name:
		http.Error(w, "Query parameter 'name' is required", http.StatusBadRequest)
		return
	case r.FormValue("type") != "hudson.slaves.DumbSlave" || f.Launcher.StaplerClass != "hudson.slaves.JNLPLauncher":
		http.Error(w, "only inbound DumbSlave nodes are supported by the fake", http.StatusBadRequest)
		return
	case err != nil || execs < 1:
		http.Error(w, "Invalid agent configuration. Number of executors must be positive", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nodes[name]; ok {
		http.Error(w, "Agent called ‘"+name+"’ already exists", http.StatusBadRequest)
		return
	}
	s.addNodeLocked(Node{Name: name, Description: f.Description, RemoteFS: f.RemoteFS,
		Labels: strings.Fields(f.LabelString), Executors: execs, Mode: f.Mode, WebSocket: f.Launcher.WebSocket})
	s.redirect(w, r, "/computer/")
}

func (s *Server) addNodeLocked(n Node) {
	n.Connected = false
	s.nodes[n.Name] = &node{Node: n, running: make([]*build, n.Executors)}
	s.order = append(s.order, n.Name)
	s.dirty = true
}

func (s *Server) computers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	list, busy, total := []any{builtIn()}, 0, 0
	for _, name := range s.order {
		n := s.nodes[name]
		list = append(list, s.computerJSON(n))
		busy += n.busy()
		total += n.Executors
	}
	s.mu.Unlock()
	writeJSON(w, r, map[string]any{"_class": "hudson.model.ComputerSet", "displayName": "Nodes",
		"busyExecutors": busy, "totalExecutors": total, "computer": list})
}

// builtInName is the built-in node's name in /computer/NAME/ URLs.
const builtInName = "(built-in)"

// builtIn is the controller's own computer, listed first as Jenkins does;
// the fake gives it no executors, so builds run only on agents.
func builtIn() map[string]any {
	return map[string]any{"_class": "hudson.model.Hudson$MasterComputer", "displayName": "Built-In Node",
		"description": "the Jenkins controller's built-in node", "offline": false, "idle": true,
		"jnlpAgent": false, "temporarilyOffline": false, "offlineCauseReason": nil, "numExecutors": 0,
		"assignedLabels": []any{map[string]any{"name": "built-in"}}, "executors": []any{}}
}

func (s *Server) computer(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("name") == builtInName {
		writeJSON(w, r, builtIn())
		return
	}
	s.mu.Lock()
	n, ok := s.nodes[r.PathValue("name")]
	var v map[string]any
	if ok {
		v = s.computerJSON(n)
	}
	s.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, r, v)
}

func (s *Server) computerJSON(n *node) map[string]any {
	labels := []any{}
	for _, l := range n.labelSet().sorted() {
		labels = append(labels, map[string]any{"name": l})
	}
	execs := []any{}
	for i, b := range n.running {
		var cur any
		if b != nil {
			cur = map[string]any{"_class": "hudson.model.FreeStyleBuild", "url": s.buildURL(b), "number": b.number}
		}
		execs = append(execs, map[string]any{"currentExecutable": cur, "idle": b == nil, "number": i})
	}
	var cause any
	if n.TemporarilyOffline {
		cause = n.OfflineMessage
	}
	return map[string]any{"_class": "hudson.slaves.SlaveComputer", "displayName": n.Name,
		"description": n.Description, "offline": n.offline(), "idle": n.busy() == 0, "jnlpAgent": true,
		"temporarilyOffline": n.TemporarilyOffline, "offlineCauseReason": cause, "numExecutors": n.Executors,
		"assignedLabels": labels, "executors": execs}
}

func (s *Server) toggleOffline(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	n, ok := s.nodes[name]
	if ok {
		n.TemporarilyOffline = !n.TemporarilyOffline
		n.OfflineMessage = ""
		if n.TemporarilyOffline {
			n.OfflineMessage = r.FormValue("offlineMessage")
		}
	}
	s.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	s.redirect(w, r, "/computer/"+name+"/")
}

func (s *Server) deleteNode(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	_, ok := s.nodes[name]
	if ok {
		s.removeNodeLocked(name)
	}
	s.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	s.redirect(w, r, "/computer/")
}

// removeNodeLocked deletes node name: its builds end ABORTED and its agent
// is disconnected, as Jenkins does.
func (s *Server) removeNodeLocked(name string) {
	n := s.nodes[name]
	for _, b := range n.running {
		if b != nil {
			b.finish("ABORTED")
		}
	}
	if n.conn != nil {
		n.conn.close()
		n.conn = nil
	}
	delete(s.nodes, name)
	for i := range s.order {
		if s.order[i] == name {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	s.dirty = true
}

func (n *node) offline() bool { return !n.Connected || n.TemporarilyOffline }

func (n *node) busy() int {
	c := 0
	for _, b := range n.running {
		if b != nil {
			c++
		}
	}
	return c
}

// labelSet is the node's labels plus its own name, as Jenkins assigns them.
func (n *node) labelSet() labelSet {
	set := labelSet{n.Name: true}
	for _, l := range n.Labels {
		set[l] = true
	}
	return set
}

type labelSet map[string]bool

func (l labelSet) sorted() []string {
	out := make([]string, 0, len(l))
	for k := range l {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
