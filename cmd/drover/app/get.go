package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type getOptions struct {
	output        string
	sel           selectors
	watch         bool
	allNamespaces bool
	showLabels    bool
	noHeaders     bool
}

func newGetCommand(s Streams, cf *clientFlags) *cobra.Command {
	o := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get TYPE[,TYPE...] [NAME...] | TYPE/NAME...",
		Short: "Display one or many resources",
		Example: `  drover get pods
  drover get rc,services -o wide
  drover get pod/jenkins-abc12 -o yaml
  drover get pods -l name=jenkins -w`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validOutput(o.output); err != nil {
				return err
			}
			c, err := cf.connect()
			if err != nil {
				return err
			}
			return runGet(cmd.Context(), c, s, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "output format: wide, json, yaml or name")
	f.StringVarP(&o.sel.label, "selector", "l", "", "label selector (e.g. name=jenkins,tier!=web)")
	f.StringVar(&o.sel.field, "field-selector", "", "field selector (e.g. status.phase=Running)")
	f.BoolVarP(&o.watch, "watch", "w", false, "after listing, watch for changes")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	f.BoolVar(&o.showLabels, "show-labels", false, "show all labels as the last column")
	f.BoolVar(&o.noHeaders, "no-headers", false, "do not print column headers")
	return cmd
}

func runGet(ctx context.Context, c *clients, s Streams, o *getOptions, args []string) error {
	targets, err := c.resolveArgs(args)
	if err != nil {
		return err
	}
	ns := c.namespace
	if o.allNamespaces {
		ns = ""
	}
	if o.watch {
		if len(targets) != 1 {
			return fmt.Errorf("watch is only supported on individual resources and resource collections, but %d resources were found", len(targets))
		}
		return watchTarget(ctx, c, s, o, targets[0], ns)
	}
	switch o.output {
	case "json", "yaml", "name":
		return getObjects(ctx, c, s, o, targets, ns)
	}
	return getTables(ctx, c, s, o, targets, ns)
}

// notFoundReporter prints kubectl-style errors for missing objects and remembers that one was.
type notFoundReporter struct {
	s    Streams
	seen bool
}

func (r *notFoundReporter) report(err error) {
	r.seen = true
	fmt.Fprintf(r.s.ErrOut, "Error from server (NotFound): %v\n", err)
}

func (r *notFoundReporter) err() error {
	if r.seen {
		return errors.New("some objects were not found")
	}
	return nil
}

func getTables(ctx context.Context, c *clients, s Streams, o *getOptions, targets []target, ns string) error {
	nf := &notFoundReporter{s: s}
	printed := 0
	for _, t := range targets {
		tbl, err := c.fetchTable(ctx, t.mapping, ns, t.names, o.sel, nf.report)
		if err != nil {
			return err
		}
		if len(tbl.Rows) == 0 {
			continue
		}
		if printed > 0 {
			fmt.Fprintln(s.Out)
		}
		printed++
		p := newTablePrinter(s.Out, o.tableOptions(t, len(targets) > 1))
		p.header(tbl)
		p.rows(tbl, kindPrefix(t))
		if err := p.flush(); err != nil {
			return err
		}
	}
	if printed == 0 && !nf.seen {
		if ns == "" || !namespaced(targets[0].mapping) {
			fmt.Fprintln(s.ErrOut, "No resources found")
		} else {
			fmt.Fprintf(s.ErrOut, "No resources found in %s namespace.\n", ns)
		}
	}
	return nf.err()
}

func (o *getOptions) tableOptions(t target, several bool) tableOptions {
	return tableOptions{
		wide:          o.output == "wide",
		withNamespace: o.allNamespaces && namespaced(t.mapping),
		withKind:      several,
		showLabels:    o.showLabels,
		noHeaders:     o.noHeaders,
	}
}

func kindPrefix(t target) string { return kindRef(t.mapping.GroupVersionKind.GroupKind(), "") }

// getObjects prints the targets' objects as json, yaml or names.
func getObjects(ctx context.Context, c *clients, s Streams, o *getOptions, targets []target, ns string) error {
	nf := &notFoundReporter{s: s}
	var objs []*unstructured.Unstructured
	for _, t := range targets {
		rc := c.resourceClient(t.mapping, ns)
		if len(t.names) == 0 {
			list, err := rc.List(ctx, metav1.ListOptions{LabelSelector: o.sel.label, FieldSelector: o.sel.field})
			if err != nil {
				return err
			}
			for i := range list.Items {
				objs = append(objs, &list.Items[i])
			}
			continue
		}
		for _, name := range t.names {
			obj, err := rc.Get(ctx, name, metav1.GetOptions{})
			if isNotFound(err) {
				nf.report(err)
				continue
			}
			if err != nil {
				return err
			}
			objs = append(objs, obj)
		}
	}
	single := len(targets) == 1 && len(targets[0].names) == 1
	if err := printObjects(s.Out, o.output, objs, single); err != nil {
		return err
	}
	return nf.err()
}
