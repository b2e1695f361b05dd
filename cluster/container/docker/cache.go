package docker

import (
	"sync"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// inspectTTL bounds how long a listed container's details are reused without a new inspect.
const inspectTTL = 30 * time.Second

// inspectCache keeps the last inspect of each running container with the list state it was taken in:
// List reuses it while the engine still reports the same state, so the node agent's relist
// every second costs one list call instead of an inspect per container. Start, Stop and
// Remove drop an entry; a state change seen by List (a container exiting) re-inspects.
type inspectCache struct {
	mu sync.Mutex
	m  map[string]cachedInspect
}

type cachedInspect struct {
	state string // the list's State ("running", "exited", ...)
	at    time.Time
	c     container.Container
}

func (ic *inspectCache) get(id, state string) (container.Container, bool) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	e, ok := ic.m[id]
	if !ok || e.state != state || time.Since(e.at) > inspectTTL {
		return container.Container{}, false
	}
	return e.c, true
}

func (ic *inspectCache) put(id, state string, c container.Container) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.m == nil {
		ic.m = map[string]cachedInspect{}
	}
	ic.m[id] = cachedInspect{state: state, at: time.Now(), c: c}
}

func (ic *inspectCache) drop(id string) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	delete(ic.m, id)
}

// sweep forgets entries not refreshed for two TTLs (containers removed behind our back).
func (ic *inspectCache) sweep() {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	for id, e := range ic.m {
		if time.Since(e.at) > 2*inspectTTL {
			delete(ic.m, id)
		}
	}
}
