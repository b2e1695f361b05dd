package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tableAccept asks the server for server-side printing, as kubectl does.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

// tableOptions say how to print a Table.
type tableOptions struct {
	wide          bool // also priority > 0 columns
	withNamespace bool // NAMESPACE column first
	withKind      bool // NAME as kind/name (several types printed)
	showLabels    bool // LABELS column last
	noHeaders     bool
}

// tablePrinter prints rows of server Tables aligned like kubectl.
type tablePrinter struct {
	w   *tabwriter.Writer
	opt tableOptions
}

func newTablePrinter(out io.Writer, opt tableOptions) *tablePrinter {
	return &tablePrinter{w: tabwriter.NewWriter(out, 6, 4, 3, ' ', 0), opt: opt}
}

// columns returns the indexes of the columns to print.
func (p *tablePrinter) columns(t *metav1.Table) []int {
	var idx []int
	for i, c := range t.ColumnDefinitions {
		if c.Priority == 0 || p.opt.wide {
			idx = append(idx, i)
		}
	}
	return idx
}

// header writes the column headers of t.
func (p *tablePrinter) header(t *metav1.Table) {
	if p.opt.noHeaders {
		return
	}
	var cells []string
	if p.opt.withNamespace {
		cells = append(cells, "NAMESPACE")
	}
	for _, i := range p.columns(t) {
		cells = append(cells, strings.ToUpper(t.ColumnDefinitions[i].Name))
	}
	if p.opt.showLabels {
		cells = append(cells, "LABELS")
	}
	fmt.Fprintln(p.w, strings.Join(cells, "\t"))
}

// rows writes the rows of t; kindPrefix ("pod/") is put before the name when withKind is set.
func (p *tablePrinter) rows(t *metav1.Table, kindPrefix string) {
	cols := p.columns(t)
	nameCol := -1
	for i, c := range t.ColumnDefinitions {
		if c.Name == "Name" || c.Format == "name" {
			nameCol = i
			break
		}
	}
	for _, row := range t.Rows {
		md := rowMetadata(row)
		var cells []string
		if p.opt.withNamespace {
			cells = append(cells, md.Namespace)
		}
		for _, i := range cols {
			cell := ""
			if i < len(row.Cells) {
				cell = formatCell(row.Cells[i])
			}
			if i == nameCol && p.opt.withKind {
				cell = kindPrefix + cell
			}
			cells = append(cells, cell)
		}
		if p.opt.showLabels {
			cells = append(cells, formatLabels(md.Labels))
		}
		fmt.Fprintln(p.w, strings.Join(cells, "\t"))
	}
}

// flush writes the buffered, aligned output.
func (p *tablePrinter) flush() error { return p.w.Flush() }

// formatCell prints a cell like kubectl: nothing for null, the first line of a string.
func formatCell(v interface{}) string {
	switch c := v.(type) {
	case nil:
		return ""
	case string:
		if i := strings.IndexAny(c, "\n\r\f"); i >= 0 {
			return c[:i] + "..."
		}
		return c
	default:
		return fmt.Sprint(c)
	}
}

func formatLabels(l map[string]string) string {
	if len(l) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}

// rowMetadata returns the object metadata the server sent with a row, if any.
func rowMetadata(row metav1.TableRow) metav1.ObjectMeta {
	var md metav1.PartialObjectMetadata
	if len(row.Object.Raw) > 0 {
		_ = json.Unmarshal(row.Object.Raw, &md)
	} else if row.Object.Object != nil {
		if a, err := meta.Accessor(row.Object.Object); err == nil {
			md.Namespace, md.Labels = a.GetNamespace(), a.GetLabels()
		}
	}
	return md.ObjectMeta
}

// decodeTable decodes a Table response, keeping numbers as written.
func decodeTable(data []byte) (*metav1.Table, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var t metav1.Table
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("decoding table: %w", err)
	}
	if t.Kind != "Table" {
		return nil, fmt.Errorf("server answered %q instead of a Table", t.Kind)
	}
	return &t, nil
}
