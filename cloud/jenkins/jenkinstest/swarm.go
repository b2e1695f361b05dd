package jenkinstest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// swarmCreate answers POST /plugin/swarm/createSlave as the Swarm plugin
// (3.x) does: an authenticated user with Agent/Create creates an inbound node
// NAME (NAME-HASH when hash is given) and gets 200 with a Java properties
// body "name=FINAL-NAME". An online node of that name is kept (409) unless
// deleteExistingClients=true.
func (s *Server) swarmCreate(w http.ResponseWriter, r *http.Request) {
	if requestUser(r) == "" {
		http.Error(w, "anonymous is missing the Agent/Create permission", http.StatusForbidden)
		return
	}
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		http.Error(w, "name is required", http.StatusBadRequest)
		return
	}
	if h := q.Get("hash"); h != "" {
		name += "-" + h
	}
	execs, err := strconv.Atoi(q.Get("executors"))
	if err != nil || execs < 1 {
		execs = 1
	}
	mode := strings.ToUpper(q.Get("mode"))
	if mode == "" {
		mode = "NORMAL"
	}
	deleteExisting, _ := strconv.ParseBool(q.Get("deleteExistingClients"))
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	s.mu.Lock()
	if n, ok := s.nodes[name]; ok {
		if n.Connected && !deleteExisting {
			s.mu.Unlock()
			w.Header().Set("Content-Type", "text/plain; UTF-8")
			w.WriteHeader(http.StatusConflict)
			fmt.Fprintf(w, "A slave called '%s' is already created and on-line\n", name)
			return
		}
		s.removeNodeLocked(name)
	}
	s.addNodeLocked(Node{Name: name, Description: "Swarm agent from " + host + ": " + q.Get("description"),
		RemoteFS: q.Get("remoteFsRoot"), Labels: strings.Fields(q.Get("labels")), Executors: execs, Mode: mode})
	s.mu.Unlock()
	body := fmt.Sprintf("#\n#%s\nname=%s\n", time.Now().UTC().Format("Mon Jan 02 15:04:05 MST 2006"), name)
	w.Header().Set("Content-Type", "text/plain; charset=iso-8859-1")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write([]byte(body))
}
