package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newCreateCommand(s Streams, cf *clientFlags) *cobra.Command {
	ff := fileFlags{}
	cmd := &cobra.Command{
		Use:   "create -f FILENAME",
		Short: "Create resources from files, directories or stdin",
		Example: `  drover create -f examples/walkthrough/
  cat pod.json | drover create -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fv, err := ff.fieldValidation()
			if err != nil {
				return err
			}
			c, err := cf.connect()
			if err != nil {
				return err
			}
			docs, err := c.loadDocuments(ff, s.In, cf.namespace)
			if err != nil {
				return err
			}
			return createAll(cmd.Context(), c, s, docs, fv)
		},
	}
	addFileFlags(cmd, &ff, "that contains the resources to create")
	addValidateFlag(cmd, &ff)
	cmd.AddCommand(newCreateJobCommand(s, cf))
	return cmd
}

func addFileFlags(cmd *cobra.Command, ff *fileFlags, what string) {
	cmd.Flags().StringSliceVarP(&ff.filenames, "filename", "f", nil, "file, directory or - (stdin) "+what)
	cmd.Flags().BoolVarP(&ff.recursive, "recursive", "R", false, "process directories recursively")
}

// addValidateFlag adds --validate, kubectl's flag of the same name, to create and apply.
func addValidateFlag(cmd *cobra.Command, ff *fileFlags) {
	cmd.Flags().StringVar(&ff.validate, "validate", "strict",
		"how the server treats unknown or duplicate fields: strict (refuse the object, naming the field), warn, or ignore")
}

// createAll creates every document, reporting each result; failures do not stop the others.
// fieldValidation is the server's treatment of unknown fields (metav1.FieldValidation*).
func createAll(ctx context.Context, c *clients, s Streams, docs []document, fieldValidation string) error {
	var errs []error
	for _, d := range docs {
		created, err := c.resourceClient(d.mapping, d.obj.GetNamespace()).Create(ctx, d.obj,
			metav1.CreateOptions{FieldValidation: fieldValidation})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.where, err))
			continue
		}
		fmt.Fprintln(s.Out, kindRef(d.mapping.GroupVersionKind.GroupKind(), created.GetName())+" created")
	}
	return errors.Join(errs...)
}
