package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// watchTarget lists one target, prints it, then prints every change until ctx ends.
func watchTarget(ctx context.Context, c *clients, s Streams, o *getOptions, t target, ns string) error {
	sel := o.sel
	if len(t.names) > 1 {
		return fmt.Errorf("watch accepts at most one name")
	}
	if len(t.names) == 1 {
		sel.field = joinSelector(sel.field, fields.OneTermEqualSelector("metadata.name", t.names[0]).String())
	}
	if o.output == "json" || o.output == "yaml" || o.output == "name" {
		return watchObjects(ctx, c, s, o.output, t, ns, sel)
	}
	tbl, err := c.fetchTable(ctx, t.mapping, ns, nil, sel, nil)
	if err != nil {
		return err
	}
	p := newTablePrinter(s.Out, o.tableOptions(t, false))
	headerDone := false
	if len(tbl.Rows) > 0 {
		p.header(tbl)
		p.rows(tbl, "")
		headerDone = true
		if err := p.flush(); err != nil {
			return err
		}
	}
	rc, err := c.restFor(t.mapping)
	if err != nil {
		return err
	}
	req := tableRequest(rc, t.mapping, ns, "", sel).
		Param("watch", "true").
		Param("resourceVersion", tbl.ResourceVersion).
		Param("allowWatchBookmarks", "false")
	stream, err := req.Stream(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	return readWatch(ctx, stream, func(typ string, raw []byte) error {
		ev, err := eventTable(raw)
		if err != nil {
			return err
		}
		if !headerDone {
			p.header(ev)
			headerDone = true
		}
		p.rows(ev, "")
		return p.flush()
	})
}

// readWatch decodes watch events from a stream and hands each object to fn until the stream or
// ctx ends. An ERROR event ends the watch with the server's message.
func readWatch(ctx context.Context, r io.Reader, fn func(typ string, raw []byte) error) error {
	dec := json.NewDecoder(r)
	for {
		var ev struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading watch stream: %w", err)
		}
		switch watch.EventType(ev.Type) {
		case watch.Error:
			var st metav1.Status
			_ = json.Unmarshal(ev.Object, &st)
			return fmt.Errorf("watch: %s", st.Message)
		case watch.Bookmark:
			continue
		}
		if err := fn(ev.Type, ev.Object); err != nil {
			return err
		}
	}
}

// eventTable turns the object of a watch event into a Table: the server sends Tables when
// asked; a plain object becomes a one-row NAME table.
func eventTable(raw []byte) (*metav1.Table, error) {
	if t, err := decodeTable(raw); err == nil {
		return t, nil
	}
	var md metav1.PartialObjectMetadata
	if err := json.Unmarshal(raw, &md); err != nil {
		return nil, fmt.Errorf("decoding watch event: %w", err)
	}
	return &metav1.Table{
		ColumnDefinitions: []metav1.TableColumnDefinition{{Name: "Name", Type: "string", Format: "name"}},
		Rows: []metav1.TableRow{{
			Cells:  []interface{}{md.Name},
			Object: runtime.RawExtension{Raw: raw},
		}},
	}, nil
}

// watchObjects prints objects as json, yaml or names as they change.
func watchObjects(ctx context.Context, c *clients, s Streams, format string, t target, ns string, sel selectors) error {
	rc := c.resourceClient(t.mapping, ns)
	opts := metav1.ListOptions{LabelSelector: sel.label, FieldSelector: sel.field}
	list, err := rc.List(ctx, opts)
	if err != nil {
		return err
	}
	for i := range list.Items {
		if err := printObjects(s.Out, format, []*unstructured.Unstructured{&list.Items[i]}, true); err != nil {
			return err
		}
	}
	opts.ResourceVersion = list.GetResourceVersion()
	w, err := rc.Watch(ctx, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			u, isObj := ev.Object.(*unstructured.Unstructured)
			if ev.Type == watch.Error || !isObj {
				return fmt.Errorf("watch: %v", ev.Object)
			}
			if err := printObjects(s.Out, format, []*unstructured.Unstructured{u}, true); err != nil {
				return err
			}
		}
	}
}

func joinSelector(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}
