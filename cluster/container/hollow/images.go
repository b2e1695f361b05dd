package hollow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/drover-ci/drover/cluster/container"
)

type imageState uint8

const (
	imagePresent imageState = iota
	imageMissing
	imageUnpullable
)

// normalizeImage gives an image reference its tag (":latest" unless tagged or digested) and
// drops Docker Hub's default prefixes, so "busybox" and "docker.io/library/busybox:latest"
// name the same image.
func normalizeImage(ref string) string {
	ref = strings.TrimPrefix(ref, "docker.io/")
	ref = strings.TrimPrefix(ref, "library/")
	if strings.Contains(ref, "@") {
		return ref
	}
	if i := strings.LastIndex(ref, ":"); i <= strings.LastIndex(ref, "/") {
		ref += ":latest"
	}
	return ref
}

func imageID(ref string) string {
	sum := sha256.Sum256([]byte(normalizeImage(ref)))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ImagePresent reports whether image is present: every image is, except those listed as
// missing or unpullable (until pulled or added) and those removed.
func (r *Runtime) ImagePresent(ctx context.Context, image string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.images[normalizeImage(image)] == imagePresent, nil
}

// ImageUser is "" (root) for every present image: simulated images name no user.
func (r *Runtime) ImageUser(ctx context.Context, image string) (string, error) {
	if ok, _ := r.ImagePresent(ctx, image); !ok {
		return "", fmt.Errorf("hollow: inspect image %s: %w", image, container.ErrImageNotFound)
	}
	return "", nil
}

// Pull makes image present after the configured pull delay, reporting progress; an
// unpullable image fails with container.ErrImageNotFound.
func (r *Runtime) Pull(ctx context.Context, image string, progress func(container.PullProgress)) error {
	name := normalizeImage(image)
	report := func(p container.PullProgress) {
		if progress != nil {
			progress(p)
		}
	}
	report(container.PullProgress{Status: "Pulling from " + name})
	r.mu.Lock()
	state := r.images[name]
	r.mu.Unlock()
	if state == imageUnpullable {
		return fmt.Errorf("pull %s: %w", image, container.ErrImageNotFound)
	}
	if r.pullDelay > 0 {
		t := r.clock.NewTimer(r.pullDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("pull %s: %w", image, ctx.Err())
		case <-t.C():
		}
	}
	const size = 1 << 20
	report(container.PullProgress{Status: "Downloading", ID: "hollow", Current: size, Total: size})
	report(container.PullProgress{Status: "Pull complete", ID: "hollow"})
	r.mu.Lock()
	if r.images[name] == imageMissing {
		delete(r.images, name)
	}
	r.mu.Unlock()
	report(container.PullProgress{Status: "Status: Downloaded newer image for " + name})
	return nil
}

// AddImage makes image present (as if built or loaded locally).
func (r *Runtime) AddImage(image string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.images, normalizeImage(image))
}

// RemoveImage makes image absent; a later Pull brings it back.
func (r *Runtime) RemoveImage(image string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := normalizeImage(image)
	if r.images[name] != imageUnpullable {
		r.images[name] = imageMissing
	}
}

// scriptFor returns the script of a container: its image's in Options.Scripts, else the
// emulation of a drover test image, else none; then overridden by HOLLOW_* variables.
func (r *Runtime) scriptFor(spec container.Spec) *Script {
	s, ok := r.scripts[normalizeImage(spec.Image)]
	if !ok {
		if s = emulate(spec); s == nil {
			s = &noScript
		}
	}
	return withEnv(s, spec.Env)
}

var noScript Script
