package jenkinstest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest/agentproto"
)

type job struct {
	name       string
	assigned   string // <assignedNode>; empty = any node
	concurrent bool
	pipeline   bool     // queue items carry no labelExpression
	commands   []string // <hudson.tasks.Shell> builders, in order
	params     []ParamDef
	next       int
	builds     map[int]*build
}

type build struct {
	job      string
	number   int
	node     string
	building bool
	result   string
	log      []string // console lines the agent sent
	params   []Parameter
	queueID  int64 // the queue item it was started from (queueId in its JSON)
}

func (b *build) finish(result string) {
	b.building, b.result = false, result
}

// Build is a build the fake started on an agent.
type Build struct {
	Job     string
	Number  int
	Node    string
	QueueID int64
	URL     string
	Params  []Parameter
}

// xml11 matches the version of an XML 1.1 declaration.
var xml11 = regexp.MustCompile(`^(\s*<\?xml\s+version=['"])1\.1(['"])`)

type jobConfig struct {
	AssignedNode    string       `xml:"assignedNode"`
	ConcurrentBuild bool         `xml:"concurrentBuild"`
	CanRoam         bool         `xml:"canRoam"`
	Shell           []string     `xml:"builders>hudson.tasks.Shell>command"`
	Params          paramDefsXML `xml:"properties>hudson.model.ParametersDefinitionProperty>parameterDefinitions"`
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	var cfg jobConfig
	// Jenkins writes (and accepts) config.xml as XML 1.1; encoding/xml only
	// knows 1.0, whose syntax is the same for these documents.
	body, _ := io.ReadAll(r.Body)
	body = xml11.ReplaceAll(body, []byte("${1}1.0${2}"))
	if err := xml.Unmarshal(body, &cfg); err != nil || name == "" {
		http.Error(w, fmt.Sprintf("Failed to parse the job config %q: %v", name, err), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[name]; ok {
		http.Error(w, "A job already exists with the name ‘"+name+"’", http.StatusBadRequest)
		return
	}
	s.jobs[name] = &job{name: name, assigned: strings.TrimSpace(cfg.AssignedNode),
		concurrent: cfg.ConcurrentBuild, commands: cfg.Shell, params: cfg.Params.defs(), next: 1, builds: map[int]*build{}}
}

func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("job")
	s.mu.Lock()
	_, ok := s.jobs[name]
	delete(s.jobs, name)
	s.mu.Unlock()
	if !ok {
		notFound(w)
		return
	}
	s.redirect(w, r, "/")
}

func (s *Server) buildInfo(w http.ResponseWriter, r *http.Request) {
	num, _ := strconv.Atoi(r.PathValue("num"))
	s.mu.Lock()
	var v map[string]any
	if j, ok := s.jobs[r.PathValue("job")]; ok {
		if b, ok := j.builds[num]; ok {
			var result any
			if !b.building {
				result = b.result
			}
			v = map[string]any{"_class": "hudson.model.FreeStyleBuild", "number": b.number,
				"building": b.building, "result": result, "builtOn": b.node, "url": s.buildURL(b), "queueId": b.queueID,
				"actions": actions(j, b.params)}
		}
	}
	s.mu.Unlock()
	if v == nil {
		notFound(w)
		return
	}
	writeJSON(w, r, v)
}

// jobInfo is GET /job/NAME/api/json as a real Jenkins answers it for a freestyle project:
// name, url, buildable, nextBuildNumber, builds (newest first) and lastBuild (null before the
// first build), each build as {_class, number, url}.
func (s *Server) jobInfo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var v map[string]any
	if j, ok := s.jobs[r.PathValue("job")]; ok {
		builds := []any{}
		var last any
		for n := j.next - 1; n >= 1; n-- {
			if b, ok := j.builds[n]; ok {
				ref := map[string]any{"_class": "hudson.model.FreeStyleBuild", "number": b.number, "url": s.buildURL(b)}
				if last == nil {
					last = ref
				}
				builds = append(builds, ref)
			}
		}
		v = map[string]any{"_class": "hudson.model.FreeStyleProject", "name": j.name, "fullName": j.name,
			"url": s.URL() + "/job/" + j.name + "/", "buildable": true, "nextBuildNumber": j.next,
			"builds": builds, "lastBuild": last, "concurrentBuild": j.concurrent}
	}
	s.mu.Unlock()
	if v == nil {
		notFound(w)
		return
	}
	writeJSON(w, r, v)
}

func (s *Server) jobList() []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for name := range s.jobs {
		out = append(out, map[string]any{"_class": "hudson.model.FreeStyleProject", "name": name,
			"url": s.URL() + "/job/" + name + "/"})
	}
	return out
}

func (s *Server) buildURL(b *build) string {
	return fmt.Sprintf("%s/job/%s/%d/", s.URL(), b.job, b.number)
}

// FinishBuild ends a running build with result (SUCCESS, FAILURE, …) and
// frees its executor.
func (s *Server) FinishBuild(jobName string, number int, result string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[jobName]
	if !ok || j.builds[number] == nil || !j.builds[number].building {
		return fmt.Errorf("jenkinstest: no running build %s #%d", jobName, number)
	}
	s.finishLocked(j.builds[number], result)
	return nil
}

// finishLocked ends running build b with result and frees its executor.
func (s *Server) finishLocked(b *build, result string) {
	b.finish(result)
	s.dirty = true
	if n, ok := s.nodes[b.node]; ok {
		for i, r := range n.running {
			if r == b {
				n.running[i] = nil
			}
		}
	}
	if s.AutoStart {
		s.startAllLocked()
	}
}

// stopBuild answers POST /job/J/N/stop: a running build ends ABORTED, its
// agent is told to kill it, and the answer is a 302 to the build.
func (s *Server) stopBuild(w http.ResponseWriter, r *http.Request) {
	num, _ := strconv.Atoi(r.PathValue("num"))
	name := r.PathValue("job")
	s.mu.Lock()
	j, ok := s.jobs[name]
	var b *build
	if ok {
		b = j.builds[num]
	}
	if b != nil && b.building {
		if n, ok := s.nodes[b.node]; ok && n.conn != nil {
			n.conn.send(agentproto.Message{Type: agentproto.TypeAbort, Job: name, Number: num})
		}
		b.log = append(b.log, "Aborted by "+requestUser(r))
		s.finishLocked(b, "ABORTED")
	}
	s.mu.Unlock()
	if b == nil {
		notFound(w)
		return
	}
	s.redirect(w, r, fmt.Sprintf("/job/%s/%d/", name, num))
}

// consoleText answers GET /job/J/N/consoleText: the lines the agent sent,
// then "Finished: RESULT" once the build is over.
func (s *Server) consoleText(w http.ResponseWriter, r *http.Request) {
	num, _ := strconv.Atoi(r.PathValue("num"))
	s.mu.Lock()
	var text strings.Builder
	found := false
	if j, ok := s.jobs[r.PathValue("job")]; ok {
		if b, ok := j.builds[num]; ok {
			found = true
			text.WriteString("Building remotely on " + b.node + "\n")
			for _, l := range b.log {
				text.WriteString(l + "\n")
			}
			if !b.building {
				text.WriteString("Finished: " + b.result + "\n")
			}
		}
	}
	s.mu.Unlock()
	if !found {
		notFound(w)
		return
	}
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	_, _ = w.Write([]byte(text.String()))
}
