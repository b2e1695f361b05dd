package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/drover-ci/drover/cluster/container"
)

// ImagePresent reports whether image is in the engine's image store.
func (r *Runtime) ImagePresent(ctx context.Context, ref string) (bool, error) {
	_, _, err := r.cli.ImageInspectWithRaw(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case errdefs.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("docker: inspect image %s: %w", ref, err)
}

// ImageUser is the user the image's config names ("" when none).
func (r *Runtime) ImageUser(ctx context.Context, ref string) (string, error) {
	ii, _, err := r.cli.ImageInspectWithRaw(ctx, ref)
	if err != nil {
		return "", imageErr(err, "inspect", ref)
	}
	if ii.Config == nil {
		return "", nil
	}
	return ii.Config.User, nil
}

// Pull pulls ref, decoding the engine's JSON message stream into progress reports.
func (r *Runtime) Pull(ctx context.Context, ref string, progress func(container.PullProgress)) error {
	rc, err := r.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return imageErr(err, "pull", ref)
	}
	defer rc.Close()
	return imageErr(decodeStream(rc, progress), "pull", ref)
}

// decodeStream reads a JSON message stream (pull, build, import) to its end and returns the
// first error message in it.
func decodeStream(r io.Reader, progress func(container.PullProgress)) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading engine stream: %w", err)
		}
		if m.Error != nil {
			return errors.New(m.Error.Message)
		}
		if progress == nil || (m.Status == "" && m.ID == "") {
			continue
		}
		p := container.PullProgress{Status: m.Status, ID: m.ID}
		if m.Progress != nil {
			p.Current, p.Total = m.Progress.Current, m.Progress.Total
			p.Progress = m.Progress.String()
		}
		progress(p)
	}
}
