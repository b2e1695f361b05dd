package app

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// apiStopBound bounds how long the API server keeps serving after the process began to stop,
// waiting for the parts that depend on it to finish.
const apiStopBound = 15 * time.Second

// parts runs the parts of one process (API server, controller manager, node agents, DNS,
// proxy) as one errgroup: the first part to fail ends the others and Wait returns its error.
// The API server stops last, once the parts that talk to it have returned (the controller
// manager gives up its Lease, node agents report their last status), or apiStopBound after the
// process began to stop.
type parts struct {
	g   *errgroup.Group
	ctx context.Context // ends when the process stops or a part fails

	mu      sync.Mutex
	running int           // dependent parts still running
	changed chan struct{} // closed when running changes
}

func newParts(ctx context.Context) *parts {
	g, ctx := errgroup.WithContext(ctx)
	return &parts{g: g, ctx: ctx, changed: make(chan struct{})}
}

// Context ends when the process stops or a part fails.
func (p *parts) Context() context.Context { return p.ctx }

// Go runs a part that depends on the API server.
func (p *parts) Go(part func(context.Context) error) {
	p.mu.Lock()
	p.running++
	p.mu.Unlock()
	p.g.Go(func() error {
		defer p.finished()
		return part(p.ctx)
	})
}

// Server runs the API server's serve, whose context ends only after the dependent parts.
func (p *parts) Server(serve func(context.Context) error) {
	sctx, stop := context.WithCancel(context.WithoutCancel(p.ctx))
	p.g.Go(func() error {
		defer stop()
		return serve(sctx)
	})
	p.g.Go(func() error {
		<-p.ctx.Done()
		p.waitDependents(apiStopBound)
		stop()
		return nil
	})
}

// Wait waits for every part and returns the first error.
func (p *parts) Wait() error { return p.g.Wait() }

func (p *parts) finished() {
	p.mu.Lock()
	p.running--
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

func (p *parts) waitDependents(bound time.Duration) {
	t := time.NewTimer(bound)
	defer t.Stop()
	for {
		p.mu.Lock()
		n, ch := p.running, p.changed
		p.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ch:
		case <-t.C:
			return
		}
	}
}
