package app

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// source is the content of one file (or stdin) named on the command line.
type source struct {
	name string
	data []byte
}

// document is one object read from a source and mapped to its resource.
type document struct {
	where   string // "file.yaml: document 2"
	obj     *unstructured.Unstructured
	mapping *meta.RESTMapping
}

// readSources reads every -f argument: "-" is stdin, a directory gives its .json, .yaml and
// .yml files (and those of its subdirectories with recursive), in name order.
func readSources(paths []string, recursive bool, stdin io.Reader) ([]source, error) {
	if len(paths) == 0 {
		return nil, errors.New("must specify -f FILENAME")
	}
	var out []source
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("reading stdin: %w", err)
			}
			out = append(out, source{name: "STDIN", data: data})
			continue
		}
		files, err := expandPath(p, recursive)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", f, err)
			}
			out = append(out, source{name: f, data: data})
		}
	}
	return out, nil
}

func expandPath(p string, recursive bool) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("the path %q does not exist", p)
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("reading directory %s: %w", p, err)
	}
	var files []string
	for _, e := range entries {
		full := filepath.Join(p, e.Name())
		if e.IsDir() {
			if recursive {
				sub, err := expandPath(full, true)
				if err != nil {
					return nil, err
				}
				files = append(files, sub...)
			}
			continue
		}
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".json", ".yaml", ".yml":
			files = append(files, full)
		}
	}
	sort.Strings(files)
	return files, nil
}

// splitDocuments decodes the objects of a YAML ("---" separated) or JSON source. Empty
// documents are skipped; List kinds are unpacked into their items.
func splitDocuments(src source) ([]document, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(src.data)))
	var docs []document
	for n := 1; ; n++ {
		chunk, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		where := fmt.Sprintf("%s: document %d", src.name, n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if len(bytes.TrimSpace(stripComments(chunk))) == 0 {
			continue
		}
		objs, err := decodeDocument(chunk)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		for _, o := range objs {
			docs = append(docs, document{where: where, obj: o})
		}
	}
}

func decodeDocument(chunk []byte) ([]*unstructured.Unstructured, error) {
	var m map[string]interface{}
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(chunk), len(chunk)+1).Decode(&m); err != nil {
		return nil, fmt.Errorf("error parsing: %w", err)
	}
	if m == nil {
		return nil, nil
	}
	u := &unstructured.Unstructured{Object: m}
	if err := checkTypeMeta(u); err != nil {
		return nil, err
	}
	if !u.IsList() {
		return []*unstructured.Unstructured{u}, nil
	}
	list, err := u.ToList()
	if err != nil {
		return nil, fmt.Errorf("unpacking %s: %w", u.GetKind(), err)
	}
	var out []*unstructured.Unstructured
	for i := range list.Items {
		item := &list.Items[i]
		if err := checkTypeMeta(item); err != nil {
			return nil, fmt.Errorf("%s item %d: %w", u.GetKind(), i, err)
		}
		out = append(out, item)
	}
	return out, nil
}

func checkTypeMeta(u *unstructured.Unstructured) error {
	switch {
	case u.GetKind() == "":
		return errors.New("Object 'Kind' is missing")
	case u.GetAPIVersion() == "":
		return fmt.Errorf("Object 'apiVersion' is missing in kind %s", u.GetKind())
	}
	return nil
}

// stripComments drops YAML comment lines so that a document of comments only counts as empty.
func stripComments(b []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}
