// Package chart renders Helm-format charts (Chart.yaml apiVersion v2, values.yaml,
// templates/*.yaml and _*.tpl helpers) the way `helm template` does for the simple charts
// drover ships: text/template over the templates with .Values, .Release.Name,
// .Release.Namespace, .Chart.Name, .Chart.Version and .Chart.AppVersion, and the functions
// quote, default, toYaml, indent, nindent, b64enc, trim and include. A missing value renders
// empty, as in Helm. It is not Helm: no hooks, subcharts, .Files or sprig beyond those.
package chart

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Metadata is Chart.yaml.
type Metadata struct {
	APIVersion  string `json:"apiVersion"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	AppVersion  string `json:"appVersion,omitempty"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type,omitempty"`
}

// Chart is a loaded chart.
type Chart struct {
	Metadata Metadata
	// Values are values.yaml's.
	Values map[string]any
	// Templates maps a template's path (templates/x.yaml) to its text.
	Templates map[string]string
}

// Load reads a chart from fsys (the chart's directory as root).
func Load(fsys fs.FS) (*Chart, error) {
	raw, err := fs.ReadFile(fsys, "Chart.yaml")
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	c := &Chart{Values: map[string]any{}, Templates: map[string]string{}}
	if err := yaml.UnmarshalStrict(raw, &c.Metadata); err != nil {
		return nil, fmt.Errorf("chart: Chart.yaml: %w", err)
	}
	if c.Metadata.APIVersion != "v2" || c.Metadata.Name == "" || c.Metadata.Version == "" {
		return nil, errors.New("chart: Chart.yaml needs apiVersion v2, name and version")
	}
	if raw, err := fs.ReadFile(fsys, "values.yaml"); err == nil {
		if err := yaml.Unmarshal(raw, &c.Values); err != nil {
			return nil, fmt.Errorf("chart: values.yaml: %w", err)
		}
		if c.Values == nil {
			c.Values = map[string]any{}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("chart: %w", err)
	}
	entries, err := fs.ReadDir(fsys, "templates")
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") || strings.HasSuffix(n, ".tpl")) {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join("templates", n))
		if err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		c.Templates[path.Join("templates", n)] = string(b)
	}
	return c, nil
}

// Release names the release being rendered.
type Release struct {
	Name, Namespace string
}

// Document is one rendered manifest.
type Document struct {
	// Source is CHART/templates/FILE, as helm template prints it.
	Source string
	Kind   string
	Name   string
	// YAML is the document without the leading --- and Source comment.
	YAML string
}

// Render renders the chart with values merged over values.yaml's (maps merge key by key,
// anything else replaces) and returns the non-empty documents in Helm's install order
// (by kind, then template file, then position in the file).
func (c *Chart) Render(rel Release, values map[string]any) ([]Document, error) {
	vals := Merge(deepCopy(c.Values), values)
	top := map[string]any{
		"Values":  vals,
		"Release": map[string]any{"Name": rel.Name, "Namespace": rel.Namespace, "Service": "Helm", "IsInstall": true},
		"Chart": map[string]any{"Name": c.Metadata.Name, "Version": c.Metadata.Version,
			"AppVersion": c.Metadata.AppVersion, "Description": c.Metadata.Description},
	}
	t, err := c.parse()
	if err != nil {
		return nil, err
	}
	var docs []Document
	for _, name := range sortedKeys(c.Templates) {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") || strings.HasSuffix(base, ".tpl") {
			continue
		}
		var b strings.Builder
		if err := t.ExecuteTemplate(&b, name, top); err != nil {
			return nil, fmt.Errorf("chart: %w", err)
		}
		out := strings.ReplaceAll(b.String(), "<no value>", "")
		for _, d := range splitDocs(out) {
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(d), &meta); err != nil {
				return nil, fmt.Errorf("chart: %s: %w\n%s", name, err, d)
			}
			if meta.Kind == "" {
				return nil, fmt.Errorf("chart: %s: a document without kind:\n%s", name, d)
			}
			docs = append(docs, Document{Source: c.Metadata.Name + "/" + name, Kind: meta.Kind, Name: meta.Metadata.Name, YAML: d})
		}
	}
	sort.SliceStable(docs, func(i, j int) bool { return kindRank(docs[i].Kind) < kindRank(docs[j].Kind) })
	return docs, nil
}

// Manifest joins documents as `helm template` prints them.
func Manifest(docs []Document) string {
	var b strings.Builder
	for _, d := range docs {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", d.Source, strings.TrimRight(d.YAML, "\n"))
	}
	return b.String()
}

// splitDocs splits on --- lines and drops documents with nothing but blanks and comments.
func splitDocs(s string) []string {
	var out []string
	for i, d := range strings.Split("\n"+s, "\n---") {
		if i > 0 { // the rest of the --- line
			if j := strings.IndexByte(d, '\n'); j >= 0 {
				d = d[j+1:]
			} else {
				d = ""
			}
		}
		d = strings.TrimLeft(d, "\n")
		empty := true
		for _, l := range strings.Split(d, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				empty = false
				break
			}
		}
		if !empty {
			out = append(out, strings.TrimRight(d, " \n")+"\n")
		}
	}
	return out
}

// installOrder is Helm's InstallOrder (the kinds drover has, in Helm's sequence).
var installOrder = []string{"Namespace", "ResourceQuota", "LimitRange", "PodDisruptionBudget", "ServiceAccount",
	"Secret", "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "Service", "DaemonSet", "Pod",
	"ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob"}

func kindRank(kind string) int {
	for i, k := range installOrder {
		if k == kind {
			return i
		}
	}
	return len(installOrder)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
