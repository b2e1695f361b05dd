package jenkinstest

import (
	"fmt"
	"strings"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest/agentproto"
)

// StartBuild assigns queue item id to a free executor of a connected agent
// whose labels match the item's label expression, as Jenkins' scheduler does.
func (s *Server) StartBuild(id int64) (Build, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked()
	for _, it := range s.queue {
		if it.id == id && it.pending {
			return Build{}, fmt.Errorf("jenkinstest: item %d has already started (pending)", id)
		}
		if it.id == id {
			if b, ok := s.startLocked(it); ok {
				return b, nil
			}
			return Build{}, fmt.Errorf("jenkinstest: item %d cannot start: %s", id, s.whyLocked(it))
		}
	}
	return Build{}, fmt.Errorf("jenkinstest: no queue item %d", id)
}

// StartBuilds starts every queued item that can start, oldest first.
func (s *Server) StartBuilds() []Build {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startAllLocked()
}

func (s *Server) startAllLocked() []Build {
	var started []Build
	s.pruneLocked()
	for _, it := range append([]*item(nil), s.queue...) {
		if b, ok := s.startLocked(it); ok {
			started = append(started, b)
		}
	}
	return started
}

func (s *Server) startLocked(it *item) (Build, bool) {
	e, err := parseExpr(it.label)
	if err != nil || it.pending || s.inQuietPeriod(it) {
		return Build{}, false
	}
	for _, name := range s.order {
		n := s.nodes[name]
		if n.offline() || !e(n.labelSet()) {
			continue
		}
		for i, slot := range n.running {
			if slot == nil {
				return s.runLocked(it, n, i), true
			}
		}
	}
	return Build{}, false
}

func (s *Server) runLocked(it *item, n *node, slot int) Build {
	s.takeLocked(it)
	j := it.job
	b := &build{job: j.name, number: j.next, node: n.Name, building: true, params: it.params, queueID: it.id}
	j.next++
	j.builds[b.number] = b
	n.running[slot] = b
	it.build = b
	s.leftLocked(it)
	s.dirty = true
	if n.conn != nil {
		env := map[string]string{
			"BUILD_NUMBER": fmt.Sprint(b.number), "BUILD_ID": fmt.Sprint(b.number), "JOB_NAME": j.name,
			"NODE_NAME": n.Name, "NODE_LABELS": strings.Join(n.labelSet().sorted(), " "),
			"EXECUTOR_NUMBER": fmt.Sprint(slot), "JENKINS_URL": s.URL() + "/", "BUILD_URL": s.buildURL(b),
		}
		for _, p := range it.params { // parameters are environment variables of the build
			env[p.Name] = p.Value
		}
		n.conn.send(agentproto.Message{Type: agentproto.TypeBuild, Job: j.name, Number: b.number,
			Commands: j.commands, Env: env})
		s.log.Info("build started", "job", j.name, "number", b.number, "node", n.Name)
	}
	return Build{Job: j.name, Number: b.number, Node: n.Name, QueueID: it.id, URL: s.buildURL(b),
		Params: append([]Parameter(nil), it.params...)}
}
