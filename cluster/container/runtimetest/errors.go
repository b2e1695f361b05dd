package runtimetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

func isNotFound(err error) bool { return errors.Is(err, container.ErrNotFound) }

func (s *suite) testNotFound(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	ctx := s.ctx(t)
	calls := map[string]func() error{
		"Inspect": func() error { _, err := s.rt.Inspect(ctx, id); return err },
		"Start":   func() error { return s.rt.Start(ctx, id) },
		"Stop":    func() error { return s.rt.Stop(ctx, id, time.Second) },
		"Remove":  func() error { return s.rt.Remove(ctx, id) },
		"Logs":    func() error { _, err := s.rt.Logs(ctx, id, container.LogOptions{Tail: -1}); return err },
		"Stats":   func() error { _, err := s.rt.Stats(ctx, id); return err },
		"Exec": func() error {
			_, err := s.rt.Exec(ctx, id, []string{"/exit", "exec", "0", "0"}, 5*time.Second)
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !isNotFound(err) {
			t.Errorf("%s(unknown) = %v, want ErrNotFound", name, err)
		}
	}
}

func (s *suite) testMissingImage(t *testing.T) {
	spec := s.exitSpec(t, nil)
	spec.Image = s.opts.MissingImage
	spec.Labels[RunLabel] = s.runID
	_, err := s.rt.Create(s.ctx(t), spec)
	if !errors.Is(err, container.ErrImageNotFound) {
		t.Errorf("Create with absent image: %v, want ErrImageNotFound", err)
	}
	if isNotFound(err) {
		t.Errorf("Create with absent image: %v is also ErrNotFound", err)
	}
}

func (s *suite) testPull(t *testing.T) {
	if s.opts.PullImage == "" {
		t.Skip("no PullImage")
	}
	var reports int
	err := s.rt.Pull(s.ctx(t), s.opts.PullImage, func(container.PullProgress) { reports++ })
	if err != nil {
		t.Fatalf("Pull(%s): %v", s.opts.PullImage, err)
	}
	if reports == 0 {
		t.Errorf("Pull reported no progress")
	}
	if ok, err := s.rt.ImagePresent(s.ctx(t), s.opts.PullImage); !ok || err != nil {
		t.Errorf("ImagePresent after Pull = %v, %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(s.ctx(t), s.opts.Timeout)
	defer cancel()
	if err := s.rt.Pull(ctx, s.opts.MissingImage, nil); !errors.Is(err, container.ErrImageNotFound) {
		t.Errorf("Pull(%s) = %v, want ErrImageNotFound", s.opts.MissingImage, err)
	}
}
