package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
)

// lastAppliedAnnotation holds the configuration apply last sent, as kubectl keeps it.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// applyResult is what apply did to one object.
type applyResult string

const (
	applyCreated    applyResult = "created"
	applyConfigured applyResult = "configured"
	applyUnchanged  applyResult = "unchanged"
)

func newApplyCommand(s Streams, cf *clientFlags) *cobra.Command {
	ff := fileFlags{}
	cmd := &cobra.Command{
		Use:   "apply -f FILENAME",
		Short: "Create resources or update them to match files, directories or stdin",
		Long: `Apply creates the objects that do not exist and patches those that do, with a three-way
merge of the last applied configuration (kept in the kubectl.kubernetes.io/last-applied-configuration
annotation, as kubectl does), the new configuration and the live object.`,
		Example: `  drover apply -f examples/walkthrough/`,
		Args:    cobra.NoArgs,
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
			var errs []error
			for _, d := range docs {
				res, err := applyDocument(cmd.Context(), c, d, fv)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", d.where, err))
					continue
				}
				fmt.Fprintf(s.Out, "%s %s\n", d.ref(), res)
			}
			return errors.Join(errs...)
		},
	}
	addFileFlags(cmd, &ff, "that contains the configuration to apply")
	addValidateFlag(cmd, &ff)
	return cmd
}

// applyDocument creates the document's object if absent, else patches it; conflicts are retried.
// fieldValidation is the server's treatment of unknown fields (metav1.FieldValidation*).
func applyDocument(ctx context.Context, c *clients, d document, fieldValidation string) (applyResult, error) {
	modified, err := annotateLastApplied(d.obj)
	if err != nil {
		return "", err
	}
	rc := c.resourceClient(d.mapping, d.obj.GetNamespace())
	var res applyResult
	for attempt := 0; attempt < 5; attempt++ {
		res, err = applyOnce(ctx, rc, d.obj, modified, fieldValidation)
		if !apierrors.IsConflict(err) {
			break
		}
	}
	return res, err
}

func applyOnce(ctx context.Context, rc dynamic.ResourceInterface, obj *unstructured.Unstructured, modified []byte,
	fieldValidation string) (applyResult, error) {
	current, err := rc.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		create := &unstructured.Unstructured{}
		if err := json.Unmarshal(modified, &create.Object); err != nil {
			return "", err
		}
		if _, err := rc.Create(ctx, create, metav1.CreateOptions{FieldValidation: fieldValidation}); err != nil {
			return "", err
		}
		return applyCreated, nil
	}
	if err != nil {
		return "", err
	}
	patch, pt, err := applyPatch(current, modified)
	if err != nil {
		return "", err
	}
	if string(patch) == "{}" {
		return applyUnchanged, nil
	}
	if _, err := rc.Patch(ctx, obj.GetName(), pt, patch, metav1.PatchOptions{FieldValidation: fieldValidation}); err != nil {
		return "", err
	}
	return applyConfigured, nil
}

// annotateLastApplied returns obj as JSON with the last-applied annotation set to obj itself
// (without that annotation), as kubectl's GetModifiedConfiguration does.
func annotateLastApplied(obj *unstructured.Unstructured) ([]byte, error) {
	u := obj.DeepCopy()
	ann := u.GetAnnotations()
	delete(ann, lastAppliedAnnotation)
	if len(ann) == 0 {
		ann = nil
	}
	u.SetAnnotations(ann)
	original, err := json.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	if ann == nil {
		ann = map[string]string{}
	}
	ann[lastAppliedAnnotation] = string(original) + "\n"
	u.SetAnnotations(ann)
	return json.Marshal(u.Object)
}

// applyPatch computes the three-way patch from the live object's last-applied configuration,
// the modified configuration and the live object: a strategic merge patch for types client-go's
// scheme knows, a JSON merge patch otherwise.
func applyPatch(current *unstructured.Unstructured, modified []byte) ([]byte, types.PatchType, error) {
	original := []byte(current.GetAnnotations()[lastAppliedAnnotation])
	live, err := json.Marshal(current.Object)
	if err != nil {
		return nil, "", err
	}
	preconditions := []mergepatch.PreconditionFunc{
		mergepatch.RequireKeyUnchanged("apiVersion"),
		mergepatch.RequireKeyUnchanged("kind"),
		mergepatch.RequireMetadataKeyUnchanged("name"),
	}
	typed, err := scheme.Scheme.New(current.GroupVersionKind())
	if err == nil {
		meta, err := strategicpatch.NewPatchMetaFromStruct(typed)
		if err != nil {
			return nil, "", err
		}
		patch, err := strategicpatch.CreateThreeWayMergePatch(original, modified, live, meta, true, preconditions...)
		if err != nil {
			return nil, "", fmt.Errorf("creating patch: %w", err)
		}
		return patch, types.StrategicMergePatchType, nil
	}
	patch, err := jsonmergepatch.CreateThreeWayJSONMergePatch(original, modified, live, preconditions...)
	if err != nil {
		return nil, "", fmt.Errorf("creating patch: %w", err)
	}
	return patch, types.MergePatchType, nil
}
