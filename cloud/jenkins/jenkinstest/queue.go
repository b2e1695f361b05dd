package jenkinstest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

type item struct {
	id     int64
	job    *job
	label  string
	since  time.Time
	quiet  time.Time // end of the quiet period (?delay=)
	params []Parameter
	// pending: an executor took the item; it stays listed until pendingUntil.
	pending      bool
	pendingUntil time.Time
	// left: the build it became (nil while waiting), or cancelled.
	build     *build
	cancelled bool
}

// build answers POST /job/J/build: 201 with the queue item's Location. A job
// without concurrentBuild that is already queued keeps its one item. A
// parameterized job wants the parameter form (or buildWithParameters): 400.
func (s *Server) build(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	j, ok := s.jobs[r.PathValue("job")]
	var id int64
	parameterized := ok && len(j.params) > 0
	if ok && !parameterized {
		id = s.enqueueLocked(j, j.assigned)
		s.quietLocked(id, r.URL.Query().Get("delay"))
	}
	s.mu.Unlock()
	switch {
	case !ok:
		notFound(w)
		return
	case parameterized:
		http.Error(w, "Nothing is submitted", http.StatusBadRequest)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("%s/queue/item/%d/", s.URL(), id))
	w.WriteHeader(http.StatusCreated)
}

// EnqueuePipeline queues a pipeline-style item for job waiting in node(label):
// its task has no labelExpression, so only the why text names the label.
func (s *Server) EnqueuePipeline(jobName, label string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[jobName]
	if !ok {
		j = &job{name: jobName, pipeline: true, concurrent: true, next: 1, builds: map[int]*build{}}
		s.jobs[jobName] = j
	}
	return s.enqueueLocked(j, label)
}

func (s *Server) enqueueLocked(j *job, label string) int64 {
	return s.enqueueParamsLocked(j, label, nil)
}

func (s *Server) enqueueParamsLocked(j *job, label string, params []Parameter) int64 {
	if !j.concurrent {
		// Jenkins folds a request into a waiting item of the same job and
		// parameters, never into a pending one: that one already started.
		for _, it := range s.queue {
			if it.job == j && !it.pending && slices.Equal(it.params, params) {
				return it.id
			}
		}
	}
	it := &item{id: s.nextID, job: j, label: label, since: s.now(), params: params}
	s.nextID++
	s.queue = append(s.queue, it)
	return it.id
}

func (s *Server) queueJSON(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.AutoStart {
		s.startAllLocked()
	}
	s.pruneLocked()
	items := []any{}
	for _, it := range s.queue {
		items = append(items, s.itemJSONLocked(it))
	}
	s.mu.Unlock()
	writeJSON(w, r, map[string]any{"_class": "hudson.model.Queue", "discoverableItems": []any{}, "items": items})
}

// itemJSONLocked is a waiting (or pending) item as /queue/api/json lists it.
func (s *Server) itemJSONLocked(it *item) map[string]any {
	class, buildable := "hudson.model.Queue$BuildableItem", !s.inQuietPeriod(it)
	if !buildable {
		class = "hudson.model.Queue$WaitingItem"
	}
	return map[string]any{"_class": class,
		"id": it.id, "why": s.whyLocked(it), "inQueueSince": it.since.UnixMilli(),
		"buildable": buildable, "stuck": false, "blocked": false, "pending": it.pending,
		"task": s.taskJSON(it), "actions": actions(it.job, it.params)}
}

func (s *Server) taskJSON(it *item) map[string]any {
	task := map[string]any{"_class": "hudson.model.FreeStyleProject", "name": it.job.name,
		"url": s.URL() + "/job/" + it.job.name + "/"}
	if it.job.pipeline {
		task["_class"] = "org.jenkinsci.plugins.workflow.support.steps.ExecutorStepExecution$PlaceholderTask"
	} else if it.label != "" {
		task["labelExpression"] = it.label
	} else {
		task["labelExpression"] = nil
	}
	return task
}

// whyLocked is the why text Jenkins 2.376 gives a waiting item (DESIGN §7).
func (s *Server) whyLocked(it *item) string {
	const waiting = "Waiting for next available executor"
	if s.inQuietPeriod(it) {
		return fmt.Sprintf("In the quiet period. Expires in %.1f sec", it.quiet.Sub(s.now()).Seconds())
	}
	if len(s.nodes) == 0 || it.label == "" {
		return waiting
	}
	var matching []*node
	e, err := parseExpr(it.label)
	for _, name := range s.order {
		if n := s.nodes[name]; err == nil && e(n.labelSet()) {
			matching = append(matching, n)
		}
	}
	online := 0
	for _, n := range matching {
		if !n.offline() {
			online++
		}
	}
	switch {
	case len(matching) == 0:
		return "There are no nodes with the label ‘" + it.label + "’"
	case online == 0 && len(matching) == 1:
		return "‘" + matching[0].Name + "’ is offline"
	case online == 0:
		return "All nodes of label ‘" + it.label + "’ are offline"
	}
	return waiting + " on ‘" + it.label + "’"
}

func (s *Server) cancelItem(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.URL.Query().Get("id"), 10, 64)
	s.mu.Lock()
	it := s.removeItemLocked(id)
	if it != nil && it.build == nil {
		it.cancelled = true
		s.leftLocked(it)
	}
	found := it != nil
	s.mu.Unlock()
	if !found {
		notFound(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) removeItemLocked(id int64) *item {
	for i, it := range s.queue {
		if it.id == id {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			return it
		}
	}
	return nil
}

// quietLocked applies ?delay=Nsec (Jenkins' quiet period) to a new item.
func (s *Server) quietLocked(id int64, delay string) {
	secs, err := strconv.Atoi(strings.TrimSuffix(delay, "sec"))
	if err != nil || secs <= 0 {
		return
	}
	for _, it := range s.queue {
		if it.id == id && it.quiet.IsZero() {
			it.quiet = s.now().Add(time.Duration(secs) * time.Second)
		}
	}
}

func (s *Server) inQuietPeriod(it *item) bool {
	return s.now().Before(it.quiet)
}
