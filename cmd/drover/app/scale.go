package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

func newScaleCommand(s Streams, cf *clientFlags) *cobra.Command {
	var replicas, current int
	cmd := &cobra.Command{
		Use:   "scale (TYPE NAME | TYPE/NAME) --replicas=COUNT",
		Short: "Set the number of replicas of a replication controller (or anything with a scale subresource)",
		Example: `  drover scale rc jenkins-slave --replicas=2
  drover scale rc/jenkins-slave --current-replicas=2 --replicas=3`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if replicas < 0 {
				return errors.New("the --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
			}
			c, err := cf.connect()
			if err != nil {
				return err
			}
			targets, err := c.resolveArgs(args)
			if err != nil {
				return err
			}
			for _, t := range targets {
				if len(t.names) == 0 {
					return errors.New("resource(s) were provided, but no name was specified")
				}
				for _, name := range t.names {
					rc := c.resourceClient(t.mapping, c.namespace)
					if err := scaleObject(cmd.Context(), rc, name, replicas, current); err != nil {
						return fmt.Errorf("scaling %s: %w", kindRef(t.mapping.GroupVersionKind.GroupKind(), name), err)
					}
					fmt.Fprintln(s.Out, kindRef(t.mapping.GroupVersionKind.GroupKind(), name)+" scaled")
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&replicas, "replicas", -1, "the new number of replicas (required)")
	cmd.Flags().IntVar(&current, "current-replicas", -1, "precondition: only scale if the current number of replicas is this")
	return cmd
}

// scaleObject sets spec.replicas through the scale subresource. The update carries the
// resourceVersion read, so a concurrent change is never overwritten: on a conflict (the
// controller wrote the status meanwhile) it reads again, checks --current-replicas again and
// retries, as kubectl scale does.
func scaleObject(ctx context.Context, rc dynamic.ResourceInterface, name string, replicas, current int) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := rc.Get(ctx, name, metav1.GetOptions{}, "scale")
		if err != nil {
			return err
		}
		have, _, err := unstructured.NestedInt64(scale.Object, "spec", "replicas")
		if err != nil {
			return fmt.Errorf("reading spec.replicas of the scale: %w", err)
		}
		if current >= 0 && int64(current) != have {
			return fmt.Errorf("expected replicas to be %d, was %d", current, have)
		}
		if err := unstructured.SetNestedField(scale.Object, int64(replicas), "spec", "replicas"); err != nil {
			return err
		}
		_, err = rc.Update(ctx, scale, metav1.UpdateOptions{}, "scale")
		return err
	})
}
