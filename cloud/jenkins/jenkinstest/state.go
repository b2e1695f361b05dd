package jenkinstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// State is what the fake keeps across restarts (Options.StateFile, the
// JSON of this type): nodes (offline until their agent connects again),
// jobs with their builds and next build numbers, and the queue.
type State struct {
	NextQueueID int64       `json:"nextQueueId"`
	Nodes       []Node      `json:"nodes"`
	Jobs        []JobState  `json:"jobs"`
	Queue       []ItemState `json:"queue"`
}

// JobState is a job in State.
type JobState struct {
	Name       string       `json:"name"`
	Assigned   string       `json:"assignedNode,omitempty"`
	Concurrent bool         `json:"concurrentBuild,omitempty"`
	Pipeline   bool         `json:"pipeline,omitempty"`
	Commands   []string     `json:"commands,omitempty"`
	Params     []ParamDef   `json:"parameters,omitempty"`
	NextBuild  int          `json:"nextBuildNumber"`
	Builds     []BuildState `json:"builds,omitempty"`
}

// BuildState is a build in State; a build running when the state was
// saved is loaded as ended FAILURE (its agent is gone).
type BuildState struct {
	Number   int         `json:"number"`
	Node     string      `json:"builtOn"`
	Building bool        `json:"building,omitempty"`
	Result   string      `json:"result,omitempty"`
	Log      []string    `json:"log,omitempty"`
	Params   []Parameter `json:"parameters,omitempty"`
}

// ItemState is a queue item in State.
type ItemState struct {
	ID     int64       `json:"id"`
	Job    string      `json:"job"`
	Label  string      `json:"label,omitempty"`
	Since  time.Time   `json:"inQueueSince"`
	Quiet  time.Time   `json:"quietUntil,omitzero"`
	Params []Parameter `json:"parameters,omitempty"`
}

// Snapshot returns the fake's persistent state.
func (s *Server) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

func (s *Server) snapshotLocked() State {
	st := State{NextQueueID: s.nextID, Nodes: []Node{}, Jobs: []JobState{}, Queue: []ItemState{}}
	for _, name := range s.order {
		n := s.nodes[name].Node
		n.Connected = false
		n.Labels = append([]string(nil), n.Labels...)
		st.Nodes = append(st.Nodes, n)
	}
	names := make([]string, 0, len(s.jobs))
	for name := range s.jobs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		j := s.jobs[name]
		js := JobState{Name: j.name, Assigned: j.assigned, Concurrent: j.concurrent, Pipeline: j.pipeline,
			Commands: append([]string(nil), j.commands...), Params: append([]ParamDef(nil), j.params...), NextBuild: j.next}
		for num := 1; num < j.next; num++ {
			if b, ok := j.builds[num]; ok {
				js.Builds = append(js.Builds, BuildState{Number: b.number, Node: b.node, Building: b.building,
					Result: b.result, Log: append([]string(nil), b.log...), Params: append([]Parameter(nil), b.params...)})
			}
		}
		st.Jobs = append(st.Jobs, js)
	}
	for _, it := range s.queue {
		if it.pending {
			continue // already running: Jenkins keeps it in memory only
		}
		st.Queue = append(st.Queue, ItemState{ID: it.id, Job: it.job.name, Label: it.label, Since: it.since, Quiet: it.quiet,
			Params: append([]Parameter(nil), it.params...)})
	}
	return st
}

// restoreLocked replaces the fake's nodes, jobs and queue with st.
func (s *Server) restoreLocked(st State) {
	s.nodes, s.order, s.jobs, s.queue = map[string]*node{}, nil, map[string]*job{}, nil
	s.nextID = max(st.NextQueueID, 1)
	for _, n := range st.Nodes {
		if n.Executors < 1 {
			n.Executors = 1
		}
		s.addNodeLocked(n)
	}
	for _, js := range st.Jobs {
		j := &job{name: js.Name, assigned: js.Assigned, concurrent: js.Concurrent, pipeline: js.Pipeline,
			commands: js.Commands, params: js.Params, next: max(js.NextBuild, 1), builds: map[int]*build{}}
		for _, bs := range js.Builds {
			b := &build{job: j.name, number: bs.Number, node: bs.Node, result: bs.Result, log: bs.Log, params: bs.Params}
			if bs.Building {
				b.result = "FAILURE"
				b.log = append(b.log, "FATAL: the controller restarted during the build")
			}
			j.builds[b.number] = b
		}
		s.jobs[j.name] = j
	}
	for _, is := range st.Queue {
		if j, ok := s.jobs[is.Job]; ok {
			s.queue = append(s.queue, &item{id: is.ID, job: j, label: is.Label, since: is.Since, quiet: is.Quiet, params: is.Params})
		}
	}
}

// load reads path into the fake; a missing file is an empty state.
func (s *Server) load(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("jenkinstest: load state: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("jenkinstest: load state %s: %w", path, err)
	}
	s.mu.Lock()
	s.restoreLocked(st)
	s.dirty = false
	s.mu.Unlock()
	return nil
}

// flush writes the state file when something changed since the last write.
func (s *Server) flush() {
	if s.opts.StateFile == "" {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return
	}
	st := s.snapshotLocked()
	s.dirty = false
	s.mu.Unlock()
	if err := writeState(s.opts.StateFile, st); err != nil {
		s.log.Error("save state", "file", s.opts.StateFile, "err", err)
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
	}
}

// writeState writes st to path atomically (a temporary file, then rename).
func writeState(path string, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".drover-fake-jenkins-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
