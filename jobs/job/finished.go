package job

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// staleRetry is how soon a job whose cached copy lags behind its own finishing write is looked
// at again (the informer's update normally wakes it first).
const staleRetry = 100 * time.Millisecond

// finishedJobs remembers the jobs this controller marked Complete or Failed (or their interim
// conditions SuccessCriteriaMet and FailureTarget) until the informer
// shows them so: a sync on the stale copy in between (woken by the deletion of the job's pods)
// must not take those pods for gone and start replacements.
type finishedJobs struct {
	mu sync.Mutex
	m  map[string]types.UID
}

func (f *finishedJobs) add(key string, uid types.UID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]types.UID{}
	}
	f.m[key] = uid
}

func (f *finishedJobs) has(key string, uid types.UID) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.m[key]
	return ok && u == uid
}

func (f *finishedJobs) forget(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key)
}
