package jenkinstest

import (
	"net/http"
	"strconv"
)

// maxLeft bounds the items kept after they left the queue (Jenkins keeps
// them for five minutes).
const maxLeft = 1000

// leftLocked remembers it after it left the queue (started or cancelled).
func (s *Server) leftLocked(it *item) {
	if len(s.left) >= maxLeft {
		s.left = append(s.left[:0], s.left[maxLeft/2:]...)
	}
	s.left = append(s.left, it)
}

// queueItem answers GET /queue/item/ID/api/json, the Location of a
// triggered build: the waiting (or pending) item as the queue lists it, then,
// once it left, a LeftItem with the build it became ("executable") or
// "cancelled": true; 404 for an unknown id.
func (s *Server) queueItem(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	s.pruneLocked()
	var v map[string]any
	for _, it := range s.queue {
		if it.id == id {
			v = s.itemJSONLocked(it)
		}
	}
	for i := len(s.left) - 1; v == nil && i >= 0; i-- {
		if it := s.left[i]; it.id == id {
			var exe any
			if it.build != nil {
				exe = map[string]any{"_class": "hudson.model.FreeStyleBuild", "number": it.build.number, "url": s.buildURL(it.build)}
			}
			v = map[string]any{"_class": "hudson.model.Queue$LeftItem", "id": it.id, "inQueueSince": it.since.UnixMilli(),
				"cancelled": it.cancelled, "executable": exe, "task": s.taskJSON(it), "actions": actions(it.job, it.params),
				"why": nil, "blocked": false, "buildable": false, "stuck": false}
		}
	}
	s.mu.Unlock()
	if v == nil {
		notFound(w)
		return
	}
	writeJSON(w, r, v)
}
