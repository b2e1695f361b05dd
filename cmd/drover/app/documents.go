package app

import (
	"errors"
	"fmt"
	"io"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fileFlags are the -f and -R flags of create, apply and delete.
type fileFlags struct {
	filenames []string
	recursive bool
	validate  string // --validate: strict (kubectl's default), warn, ignore; true and false as kubectl takes them
}

// fieldValidation is the fieldValidation query parameter --validate asks for: the server
// refuses (Strict), warns of (Warn) or drops (Ignore) unknown and duplicate fields.
func (ff fileFlags) fieldValidation() (string, error) {
	switch strings.ToLower(ff.validate) {
	case "", "strict", "true":
		return metav1.FieldValidationStrict, nil
	case "warn":
		return metav1.FieldValidationWarn, nil
	case "ignore", "false":
		return metav1.FieldValidationIgnore, nil
	}
	return "", fmt.Errorf("invalid --validate %q: must be one of strict (or true), warn, ignore (or false)", ff.validate)
}

// loadDocuments reads, parses and maps every document of the -f sources. It reports every
// malformed, unknown or misplaced document, naming file and document, and returns no documents
// at all then, so that nothing is sent when any of them is wrong. explicitNS is the --namespace
// flag ("" when not given).
func (c *clients) loadDocuments(ff fileFlags, stdin io.Reader, explicitNS string) ([]document, error) {
	sources, err := readSources(ff.filenames, ff.recursive, stdin)
	if err != nil {
		return nil, err
	}
	var docs []document
	var errs []error
	for _, src := range sources {
		parsed, err := splitDocuments(src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range parsed {
			if err := c.mapDocument(&d, explicitNS); err != nil {
				errs = append(errs, err)
				continue
			}
			docs = append(docs, d)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(docs) == 0 {
		return nil, errors.New("no objects passed to the command")
	}
	return docs, nil
}

// mapDocument finds the resource of a document and settles its namespace.
func (c *clients) mapDocument(d *document, explicitNS string) error {
	gvk := d.obj.GroupVersionKind()
	name := d.obj.GetName()
	if name == "" {
		name = d.obj.GetGenerateName()
	}
	where := fmt.Sprintf("%s (%s %q)", d.where, gvk.Kind, name)
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s: resource mapping not found for apiVersion %q, kind %q: %w", where, d.obj.GetAPIVersion(), gvk.Kind, err)
	}
	if name == "" {
		return fmt.Errorf("%s: resource name may not be empty", where)
	}
	d.mapping = m
	d.where = where
	if !namespaced(m) {
		d.obj.SetNamespace("")
		return nil
	}
	ns := d.obj.GetNamespace()
	switch {
	case ns == "":
		d.obj.SetNamespace(c.namespace)
	case explicitNS != "" && ns != explicitNS:
		return fmt.Errorf("%s: the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation",
			where, ns, explicitNS, ns)
	}
	return nil
}

// ref names a document's object like kubectl prints it.
func (d *document) ref() string {
	return kindRef(d.mapping.GroupVersionKind.GroupKind(), d.obj.GetName())
}
