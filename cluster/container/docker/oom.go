package docker

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/drover-ci/drover/cluster/container"
)

// oomEventWindow is how long after a container's exit the engine's event log is asked whether
// it was OOM-killed, when its state does not say so.
const oomEventWindow = 15 * time.Second

// Docker 20.10 sets a container's State.OOMKilled only when containerd's OOM event is handled
// before its exit event; under load the two are handled the other way round and the flag is
// lost for good, but the engine still logs the container's "oom" event (monitor.go's EventOOM
// handler). So for a container that exited with 137 (SIGKILL) without the flag, shortly
// after its exit, the event log is asked too. What it found is kept per container run (its
// ID and exit time), so it is asked once.
type oomLog struct {
	mu   sync.Mutex
	seen map[string]time.Time // container ID → FinishedAt of the run the log says was OOM-killed
}

func (l *oomLog) has(id string, finished time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.seen[id]
	return ok && at.Equal(finished)
}

func (l *oomLog) put(id string, finished time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]time.Time{}
	}
	for k, at := range l.seen { // bounded: runs older than the window are not asked again
		if time.Since(at) > 4*oomEventWindow {
			delete(l.seen, k)
		}
	}
	l.seen[id] = finished
}

// withOOMEvent sets c.OOMKilled when c exited with 137 without it and the engine logged an
// "oom" event for it during its last run.
func (r *Runtime) withOOMEvent(ctx context.Context, c container.Container) container.Container {
	if c.State != container.StateExited || c.ExitCode != 137 || c.OOMKilled || c.StartedAt.IsZero() || c.FinishedAt.IsZero() {
		return c
	}
	if r.ooms.has(c.ID, c.FinishedAt) {
		c.OOMKilled = true
		return c
	}
	if time.Since(c.FinishedAt) > oomEventWindow {
		return c
	}
	if r.oomLogged(ctx, c.ID, c.StartedAt) {
		r.ooms.put(c.ID, c.FinishedAt)
		c.OOMKilled = true
	}
	return c
}

// oomLogged asks the engine's event log for an "oom" event of container id since its start.
func (r *Runtime) oomLogged(ctx context.Context, id string, since time.Time) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	f := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("container", id), filters.Arg("event", string(events.ActionOOM)))
	// Until now: the engine answers from its log of past events and ends the stream at once
	// (an until in the future would hold the answer open until then).
	msgs, errs := r.cli.Events(ctx, types.EventsOptions{
		Since:   eventTime(since.Add(-time.Second)),
		Until:   eventTime(time.Now()),
		Filters: f,
	})
	for {
		select {
		case m := <-msgs:
			if m.Action == events.ActionOOM && m.Actor.ID == id {
				return true
			}
		case <-errs: // io.EOF once the log up to Until is read, or a failure: not known
			return false
		}
	}
}

// eventTime is t as the events API reads it: seconds.nanoseconds since the epoch.
func eventTime(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + "." + fmt.Sprintf("%09d", t.Nanosecond())
}
