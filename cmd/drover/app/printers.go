package app

import (
	"encoding/json"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

// validOutput checks an -o value of get.
func validOutput(o string) error {
	switch o {
	case "", "wide", "json", "yaml", "name":
		return nil
	}
	return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,wide,yaml", o)
}

// printObjects prints objects as json, yaml or name. With single set and exactly one object,
// the object itself is printed; otherwise a v1 List holding them.
func printObjects(out io.Writer, format string, objs []*unstructured.Unstructured, single bool) error {
	if format == "name" {
		for _, o := range objs {
			fmt.Fprintln(out, kindRef(o.GroupVersionKind().GroupKind(), o.GetName()))
		}
		return nil
	}
	var v interface{}
	if single && len(objs) == 1 {
		v = objs[0].Object
	} else {
		items := make([]interface{}, len(objs))
		for i, o := range objs {
			items[i] = o.Object
		}
		v = map[string]interface{}{
			"apiVersion": "v1",
			"kind":       "List",
			"items":      items,
			"metadata":   map[string]interface{}{"resourceVersion": ""},
		}
	}
	return printValue(out, format, v)
}

// printValue prints v as indented JSON or as YAML.
func printValue(out io.Writer, format string, v interface{}) error {
	var data []byte
	var err error
	if format == "yaml" {
		data, err = yaml.Marshal(v)
	} else {
		data, err = json.MarshalIndent(v, "", "    ")
		data = append(data, '\n')
	}
	if err != nil {
		return fmt.Errorf("encoding output: %w", err)
	}
	_, err = out.Write(data)
	return err
}
