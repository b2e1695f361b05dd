package jenkinstest

import "net/http"

// label answers GET /label/EXPR/api/json: executors, nodes and tied jobs.
func (s *Server) label(w http.ResponseWriter, r *http.Request) {
	expr := r.PathValue("expr")
	e, err := parseExpr(expr)
	if err != nil {
		notFound(w)
		return
	}
	s.mu.Lock()
	nodes, jobs := []any{}, []any{}
	busy, idle, total, offline := 0, 0, 0, true
	for _, name := range s.order {
		n := s.nodes[name]
		if !e(n.labelSet()) {
			continue
		}
		nodes = append(nodes, map[string]any{"_class": "hudson.slaves.DumbSlave", "nodeName": n.Name})
		total += n.Executors
		if !n.offline() {
			offline = false
			busy += n.busy()
			idle += n.Executors - n.busy()
		}
	}
	for name, j := range s.jobs {
		if !j.pipeline && j.assigned == expr {
			jobs = append(jobs, map[string]any{"_class": "hudson.model.FreeStyleProject", "name": name})
		}
	}
	s.mu.Unlock()
	writeJSON(w, r, map[string]any{"_class": "hudson.model.labels.LabelAtom", "name": expr,
		"busyExecutors": busy, "idleExecutors": idle, "totalExecutors": total, "offline": offline,
		"nodes": nodes, "tiedJobs": jobs})
}
