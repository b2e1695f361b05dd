package manager

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Fence stops the controllers the moment this process can no longer be sure it holds the
// Lease. client-go's elector only gives up after RenewDeadline of failed renewals, and keeps
// its controllers running meanwhile even when it has already read that another process holds
// the Lease (a leader frozen past its Lease, e.g. by SIGSTOP or a long GC pause, would act for
// up to RenewDeadline after waking). The fence cancels the leading context when
//   - RenewDeadline has passed since the start of the last successful renewal (so a process
//     that wakes from a freeze stops before its controllers see what changed meanwhile), or
//   - a read of the Lease shows another holder.
//
// Cancelling a context does not stop a worker that is already past its last look at it: a
// process woken from a freeze runs its fence's timer and its controllers' workers in no
// particular order, and a worker may send the write it was about to send when frozen (seen in
// CI: an RC status PUT 11 s after the Lease was lost). So the fence also guards the wire: the
// controllers' clients built on a rest.Config wrapped with WrapTransport refuse every write
// (any method but GET, HEAD and OPTIONS) unless the process leads and its last renewal started
// less than RenewDeadline ago, and such a refusal trips the fence. A zero Fence is ready to use;
// Run fills it in (Config.Fence).
type Fence struct {
	identity string
	deadline time.Duration // RenewDeadline
	log      *slog.Logger

	mu      sync.Mutex
	renewed time.Time          // start of the last write of the Lease naming us
	cancel  context.CancelFunc // ends this round of the election (nil while not leading)
}

// lead arms the fence for a leading context; the returned function disarms it.
func (f *Fence) lead(ctx context.Context, cancel context.CancelFunc) {
	f.mu.Lock()
	f.cancel = cancel
	f.mu.Unlock()
	go func() {
		for {
			f.mu.Lock()
			left := time.Until(f.renewed.Add(f.deadline))
			f.mu.Unlock()
			if left <= 0 {
				f.trip("the Lease was not renewed within the renew deadline")
				return
			}
			t := time.NewTimer(left)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
}

// trip stops leading at once.
func (f *Fence) trip(why string) {
	f.mu.Lock()
	cancel := f.cancel
	f.cancel = nil
	f.mu.Unlock()
	if cancel != nil {
		f.log.Warn("controller manager: stopping the controllers: "+why, "identity", f.identity)
		cancel()
	}
}

// fencedLock is the Lease lock with the fence's bookkeeping.
type fencedLock struct {
	resourcelock.Interface
	f *Fence
}

func (l *fencedLock) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	start := time.Now()
	err := l.Interface.Create(ctx, r)
	l.wrote(r, start, err)
	return err
}

func (l *fencedLock) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	start := time.Now()
	err := l.Interface.Update(ctx, r)
	l.wrote(r, start, err)
	if r.HolderIdentity == "" && apierrors.IsConflict(err) {
		return l.release(ctx, r)
	}
	return err
}

// release retries the elector's release (an update naming no holder) that conflicted: a renewal
// cancelled by the stop may still have been applied, so the elector's copy of the Lease is one
// write behind ("Failed to release lock" on every other shutdown). The Lease is read again and
// released if it still names this process; if another holds it there is nothing to release.
func (l *fencedLock) release(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	for {
		cur, _, err := l.Interface.Get(ctx)
		if err != nil {
			return err
		}
		if cur.HolderIdentity != l.f.identity {
			return nil
		}
		r.LeaderTransitions = cur.LeaderTransitions
		err = l.Interface.Update(ctx, r)
		if !apierrors.IsConflict(err) {
			return err
		}
	}
}

func (l *fencedLock) wrote(r resourcelock.LeaderElectionRecord, start time.Time, err error) {
	if err != nil || r.HolderIdentity != l.f.identity {
		return
	}
	l.f.mu.Lock()
	l.f.renewed = start
	l.f.mu.Unlock()
}

func (l *fencedLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	r, raw, err := l.Interface.Get(ctx)
	if err == nil && r.HolderIdentity != l.f.identity {
		l.f.trip("the Lease is held by " + r.HolderIdentity)
	}
	return r, raw, err
}

// ErrNotLeading is what a fenced client's write returns while this process cannot be sure it
// holds the Lease; the write was not sent.
var ErrNotLeading = fmt.Errorf("controller manager: write not sent: this process does not hold the Lease kube-system/%s", LeaseName)

// mayWrite reports whether a write may be sent now: the process leads and its Lease was last
// renewed within the renew deadline. A refusal trips the fence.
func (f *Fence) mayWrite() bool {
	f.mu.Lock()
	ok := f.cancel != nil && time.Since(f.renewed) < f.deadline
	f.mu.Unlock()
	if !ok {
		f.trip("a write was due after the renew deadline")
	}
	return ok
}

// WrapTransport wraps the transport of the controllers' clients (rest.Config.Wrap): a write
// goes out only while this process leads (see Fence). Reads, watches included, always do.
func (f *Fence) WrapTransport(rt http.RoundTripper) http.RoundTripper {
	return &fencedTransport{rt: rt, f: f}
}

type fencedTransport struct {
	rt http.RoundTripper
	f  *Fence
}

func (t *fencedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if !t.f.mayWrite() {
			if req.Body != nil {
				_ = req.Body.Close() // RoundTrip must close the body, even on error
			}
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ErrNotLeading)
		}
		// When it was let through (the API server's request log says when it arrived, which
		// for a write let through just before a SIGSTOP is after the SIGCONT).
		t.f.log.Debug("controller manager: write sent", "method", req.Method, "path", req.URL.Path)
	}
	return t.rt.RoundTrip(req)
}
