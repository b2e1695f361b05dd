package app

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"
)

func newDescribeCommand(s Streams, cf *clientFlags) *cobra.Command {
	var selector string
	cmd := &cobra.Command{
		Use:   "describe (TYPE [NAME...] | TYPE/NAME...)",
		Short: "Show the details of resources and their events",
		Example: `  drover describe pod jenkins-abc12
  drover describe rc/jenkins svc/jenkins`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			return runDescribe(cmd.Context(), c, s.Out, args, selector)
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "describe the objects matching this label selector")
	return cmd
}

func runDescribe(ctx context.Context, c *clients, out io.Writer, args []string, selector string) error {
	targets, err := c.resolveArgs(args)
	if err != nil {
		return err
	}
	first := true
	for _, t := range targets {
		objs, err := describeObjects(ctx, c, t, selector)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if !first {
				fmt.Fprintln(out)
			}
			first = false
			if err := describeObject(ctx, c, out, obj); err != nil {
				return err
			}
		}
	}
	return nil
}

func describeObjects(ctx context.Context, c *clients, t target, selector string) ([]*unstructured.Unstructured, error) {
	rc := c.resourceClient(t.mapping, c.namespace)
	if len(t.names) == 0 {
		list, err := rc.List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, err
		}
		out := make([]*unstructured.Unstructured, len(list.Items))
		for i := range list.Items {
			out[i] = &list.Items[i]
		}
		return out, nil
	}
	var out []*unstructured.Unstructured
	for _, n := range t.names {
		obj, err := rc.Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// describeObject writes the description of one object followed by its events.
func describeObject(ctx context.Context, c *clients, out io.Writer, obj *unstructured.Unstructured) error {
	w := newDescWriter(out)
	var err error
	switch gvk := obj.GroupVersionKind(); {
	case gvk.Group == "" && gvk.Kind == "Pod":
		err = describeTyped(obj, &corev1.Pod{}, func(p *corev1.Pod) error { describePod(w, p); return nil })
	case gvk.Group == "" && gvk.Kind == "ReplicationController":
		err = describeTyped(obj, &corev1.ReplicationController{}, func(rc *corev1.ReplicationController) error {
			return describeRC(ctx, w, c.typed, rc)
		})
	case gvk.Group == "" && gvk.Kind == "Service":
		err = describeTyped(obj, &corev1.Service{}, func(svc *corev1.Service) error {
			return describeService(ctx, w, c.typed, svc)
		})
	case gvk.Group == "" && gvk.Kind == "ResourceQuota":
		err = describeTyped(obj, &corev1.ResourceQuota{}, func(q *corev1.ResourceQuota) error { describeQuota(w, q); return nil })
	case gvk.Group == "" && gvk.Kind == "LimitRange":
		err = describeTyped(obj, &corev1.LimitRange{}, func(lr *corev1.LimitRange) error { describeLimitRange(w, lr); return nil })
	case gvk.Group == "" && gvk.Kind == "Node":
		err = describeTyped(obj, &corev1.Node{}, func(n *corev1.Node) error { return describeNode(ctx, w, c.typed, n) })
	default:
		describeGeneric(w, obj)
	}
	if err != nil {
		return err
	}
	if err := describeEvents(ctx, w, c.typed, obj); err != nil {
		return err
	}
	return w.flush()
}

// describeTyped converts obj to T and calls fn with it.
func describeTyped[T any](obj *unstructured.Unstructured, typed *T, fn func(*T) error) error {
	if err := fromUnstructured(obj, typed); err != nil {
		return err
	}
	return fn(typed)
}

// describeMeta writes the common metadata lines.
func describeMeta(w *descWriter, m metav1.Object) {
	w.line(0, "Name", m.GetName())
	if m.GetNamespace() != "" {
		w.line(0, "Namespace", m.GetNamespace())
	}
	w.multi(0, "Labels", keyValues(m.GetLabels(), "="))
	ann := maps.Clone(m.GetAnnotations())
	delete(ann, lastAppliedAnnotation) // as kubectl describe: it repeats the object
	w.multi(0, "Annotations", keyValues(ann, ": "))
	w.line(0, "CreationTimestamp", m.GetCreationTimestamp().Time.Format(time.RFC1123Z))
	if refs := m.GetOwnerReferences(); len(refs) > 0 {
		for _, r := range refs {
			if r.Controller != nil && *r.Controller {
				w.line(0, "Controlled By", r.Kind+"/"+r.Name)
			}
		}
	}
	if ts := m.GetDeletionTimestamp(); ts != nil {
		w.line(0, "Terminating", "since "+ts.Time.Format(time.RFC1123Z))
	}
}

// describeGeneric writes metadata and then walks the rest of the object.
func describeGeneric(w *descWriter, obj *unstructured.Unstructured) {
	describeMeta(w, obj)
	keys := make([]string, 0, len(obj.Object))
	for k := range obj.Object {
		switch k {
		case "metadata", "apiVersion", "kind":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.field(0, k, obj.Object[k])
	}
}

// describeEvents lists the events whose involvedObject is obj.
func describeEvents(ctx context.Context, w *descWriter, cs kubernetes.Interface, obj metav1.Object) error {
	sel := fields.OneTermEqualSelector("involvedObject.uid", string(obj.GetUID())).String()
	list, err := cs.CoreV1().Events(obj.GetNamespace()).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		fmt.Fprintf(w.w, "Events:\t<unable to list: %v>\n", err)
		return nil
	}
	if len(list.Items) == 0 {
		fmt.Fprintln(w.w, "Events:\t<none>")
		return nil
	}
	events := list.Items
	sort.SliceStable(events, func(i, j int) bool { return eventTime(events[i]).Before(eventTime(events[j])) })
	fmt.Fprintln(w.w, "Events:")
	fmt.Fprintln(w.w, "  Type\tReason\tAge\tFrom\tMessage")
	fmt.Fprintln(w.w, "  ----\t------\t----\t----\t-------")
	for _, e := range events {
		age := since(eventTime(e))
		if e.Count > 1 {
			age = fmt.Sprintf("%s (x%d over %s)", age, e.Count, since(e.FirstTimestamp.Time))
		}
		from := e.Source.Component
		if e.Source.Host != "" {
			from += ", " + e.Source.Host
		}
		if from == "" {
			from = e.ReportingController
		}
		fmt.Fprintf(w.w, "  %s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, age, from, strings.TrimSpace(e.Message))
	}
	return nil
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.FirstTimestamp.Time
}

func since(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t))
}

// descWriter writes aligned "Key:  value" lines with two-space indentation per level.
type descWriter struct{ w *tabwriter.Writer }

func newDescWriter(out io.Writer) *descWriter {
	return &descWriter{w: tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)}
}

func (d *descWriter) flush() error { return d.w.Flush() }

func (d *descWriter) line(level int, key string, value interface{}) {
	s := fmt.Sprint(value)
	if s == "" {
		s = "<none>"
	}
	fmt.Fprintf(d.w, "%s%s:\t%s\n", strings.Repeat("  ", level), key, s)
}

// header writes "Key:" with nothing after it, for nested sections.
func (d *descWriter) header(level int, key string) {
	fmt.Fprintf(d.w, "%s%s:\n", strings.Repeat("  ", level), key)
}

// multi writes a list under one key, one item a line.
func (d *descWriter) multi(level int, key string, items []string) {
	if len(items) == 0 {
		d.line(level, key, "<none>")
		return
	}
	d.line(level, key, items[0])
	for _, it := range items[1:] {
		fmt.Fprintf(d.w, "%s\t%s\n", strings.Repeat("  ", level), it)
	}
}

func keyValues(m map[string]string, sep string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		v := m[k]
		if len(v) > 200 {
			v = v[:200] + "..."
		}
		out[i] = k + sep + v
	}
	return out
}

func fromUnstructured(obj *unstructured.Unstructured, into interface{}) error {
	if err := runtimeConverter.FromUnstructured(obj.Object, into); err != nil {
		return fmt.Errorf("converting %s: %w", obj.GetKind(), err)
	}
	return nil
}
