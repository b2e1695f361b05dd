package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

type deleteOptions struct {
	files          fileFlags
	selector       string
	all            bool
	cascade        string
	gracePeriod    int
	now            bool
	wait           bool
	timeout        time.Duration
	ignoreNotFound bool
}

func newDeleteCommand(s Streams, cf *clientFlags) *cobra.Command {
	o := &deleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete (TYPE NAME... | TYPE/NAME... | TYPE -l SELECTOR | -f FILENAME)",
		Short: "Delete resources by name, label selector or file",
		Example: `  drover delete pod jenkins-abc12
  drover delete rc -l name=jenkins-slave --cascade=orphan
  drover delete -f examples/walkthrough/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			policy, err := cascadePolicy(o.cascade)
			if err != nil {
				return err
			}
			c, err := cf.connect()
			if err != nil {
				return err
			}
			objs, err := deleteTargets(cmd.Context(), c, s, o, cf.namespace, args)
			if err != nil {
				return err
			}
			return deleteObjects(cmd.Context(), c, s, o, policy, objs)
		},
	}
	addFileFlags(cmd, &o.files, "that contains the resources to delete")
	f := cmd.Flags()
	f.StringVarP(&o.selector, "selector", "l", "", "delete the objects of TYPE matching this label selector")
	f.BoolVar(&o.all, "all", false, "delete all objects of TYPE in the namespace")
	f.StringVar(&o.cascade, "cascade", "background", "dependents: background, foreground or orphan")
	f.IntVar(&o.gracePeriod, "grace-period", -1, "seconds given to the object to terminate gracefully (-1: the object's default)")
	f.BoolVar(&o.now, "now", false, "signal the object to stop at once (same as --grace-period=1)")
	f.BoolVar(&o.wait, "wait", true, "wait until the objects are gone before returning")
	f.DurationVar(&o.timeout, "timeout", 0, "how long to wait for the deletion (0: a week, as kubectl)")
	f.BoolVar(&o.ignoreNotFound, "ignore-not-found", false, "treat objects that do not exist as deleted")
	return cmd
}

func cascadePolicy(s string) (metav1.DeletionPropagation, error) {
	switch strings.ToLower(s) {
	case "background", "true":
		return metav1.DeletePropagationBackground, nil
	case "foreground":
		return metav1.DeletePropagationForeground, nil
	case "orphan", "false":
		return metav1.DeletePropagationOrphan, nil
	}
	return "", fmt.Errorf("invalid cascade value %q: must be background, foreground or orphan", s)
}

// objectRef is one object to delete.
type objectRef struct {
	target
	namespace string
	name      string
}

// deleteTargets collects the objects named by -f, by TYPE NAME..., or by TYPE -l / --all.
func deleteTargets(ctx context.Context, c *clients, s Streams, o *deleteOptions, explicitNS string, args []string) ([]objectRef, error) {
	if len(o.files.filenames) > 0 {
		if len(args) > 0 {
			return nil, errors.New("arguments cannot be given together with -f")
		}
		docs, err := c.loadDocuments(o.files, s.In, explicitNS)
		if err != nil {
			return nil, err
		}
		refs := make([]objectRef, len(docs))
		for i, d := range docs {
			refs[i] = objectRef{target: target{mapping: d.mapping}, namespace: d.obj.GetNamespace(), name: d.obj.GetName()}
		}
		return refs, nil
	}
	targets, err := c.resolveArgs(args)
	if err != nil {
		return nil, err
	}
	var refs []objectRef
	for _, t := range targets {
		ns := ""
		if namespaced(t.mapping) {
			ns = c.namespace
		}
		if len(t.names) > 0 {
			for _, n := range t.names {
				refs = append(refs, objectRef{target: t, namespace: ns, name: n})
			}
			continue
		}
		if o.selector == "" && !o.all {
			return nil, errors.New("resource(s) were provided, but no name was specified: give names, -l SELECTOR or --all")
		}
		list, err := c.resourceClient(t.mapping, ns).List(ctx, metav1.ListOptions{LabelSelector: o.selector})
		if err != nil {
			return nil, err
		}
		for _, item := range list.Items {
			refs = append(refs, objectRef{target: t, namespace: ns, name: item.GetName()})
		}
	}
	if len(refs) == 0 {
		fmt.Fprintln(s.ErrOut, "No resources found")
	}
	return refs, nil
}

func deleteObjects(ctx context.Context, c *clients, s Streams, o *deleteOptions, policy metav1.DeletionPropagation, refs []objectRef) error {
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	if o.now {
		o.gracePeriod = 1
	}
	if o.gracePeriod >= 0 {
		g := int64(o.gracePeriod)
		opts.GracePeriodSeconds = &g
	}
	var errs []error
	uids := map[int]types.UID{}
	for i, r := range refs {
		rc := c.resourceClient(r.mapping, r.namespace)
		obj, err := rc.Get(ctx, r.name, metav1.GetOptions{})
		if err == nil {
			uids[i] = obj.GetUID()
			err = rc.Delete(ctx, r.name, opts)
		}
		if isNotFound(err) && o.ignoreNotFound {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(s.Out, "%s %q deleted\n", strings.TrimSuffix(kindRef(r.mapping.GroupVersionKind.GroupKind(), ""), "/"), r.name)
	}
	if o.wait {
		for i, uid := range uids {
			if err := waitGone(ctx, c, refs[i], uid, o.timeout); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// waitGone polls until the object is gone or replaced by one with another uid.
func waitGone(ctx context.Context, c *clients, r objectRef, uid types.UID, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 7 * 24 * time.Hour
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rc := c.resourceClient(r.mapping, r.namespace)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		obj, err := rc.Get(ctx, r.name, metav1.GetOptions{})
		if isNotFound(err) || (err == nil && obj.GetUID() != uid) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for the deletion of %s", kindRef(r.mapping.GroupVersionKind.GroupKind(), r.name))
		case <-tick.C:
		}
	}
}
