package app

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The API server keeps serving until the parts that depend on it have returned (the
// controller manager releases its Lease through it), and a failing part ends them all.
func TestPartsServerStopsLast(t *testing.T) {
	p := newParts(context.Background())
	serving := make(chan struct{})
	serverEnded := make(chan time.Time, 1)
	p.Server(func(ctx context.Context) error {
		close(serving)
		<-ctx.Done()
		serverEnded <- time.Now()
		return nil
	})
	dependentEnded := make(chan time.Time, 1)
	p.Go(func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(200 * time.Millisecond) // releasing the Lease
		dependentEnded <- time.Now()
		return nil
	})
	boom := errors.New("boom")
	p.Go(func(context.Context) error {
		<-serving
		return boom
	})
	if err := p.Wait(); !errors.Is(err, boom) {
		t.Fatalf("Wait: %v, want the failing part's error", err)
	}
	if s, d := <-serverEnded, <-dependentEnded; s.Before(d) {
		t.Errorf("the server stopped %v before a dependent part returned", d.Sub(s))
	}
}
