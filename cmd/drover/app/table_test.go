package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func podTable(t *testing.T, rows ...[]interface{}) *metav1.Table {
	t.Helper()
	tbl := &metav1.Table{
		TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name"},
			{Name: "Ready", Type: "string"},
			{Name: "Restarts", Type: "integer"},
			{Name: "IP", Type: "string", Priority: 1},
		},
	}
	for _, r := range rows {
		md, err := json.Marshal(metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name: r[0].(string), Namespace: "ns-" + r[0].(string), Labels: map[string]string{"app": "x", "a": "1"}}})
		if err != nil {
			t.Fatal(err)
		}
		tbl.Rows = append(tbl.Rows, metav1.TableRow{Cells: r, Object: runtime.RawExtension{Raw: md}})
	}
	return tbl
}

func TestTablePrinter(t *testing.T) {
	tbl := podTable(t, []interface{}{"jenkins", "1/1", int64(0), "10.0.0.5"}, []interface{}{"slave-long-name", "0/1", int64(12), nil})
	tests := []struct {
		name   string
		opt    tableOptions
		prefix string
		want   string
	}{
		{"default", tableOptions{}, "", `
NAME              READY   RESTARTS
jenkins           1/1     0
slave-long-name   0/1     12
`},
		{"wide", tableOptions{wide: true}, "", `
NAME              READY   RESTARTS   IP
jenkins           1/1     0          10.0.0.5
slave-long-name   0/1     12         
`},
		{"all namespaces and labels", tableOptions{withNamespace: true, showLabels: true}, "", `
NAMESPACE            NAME              READY   RESTARTS   LABELS
ns-jenkins           jenkins           1/1     0          a=1,app=x
ns-slave-long-name   slave-long-name   0/1     12         a=1,app=x
`},
		{"kind prefix, no headers", tableOptions{withKind: true, noHeaders: true}, "pod/", `
pod/jenkins           1/1   0
pod/slave-long-name   0/1   12
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newTablePrinter(&out, tt.opt)
			p.header(tbl)
			p.rows(tbl, tt.prefix)
			if err := p.flush(); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(strings.TrimPrefix(tt.want, "\n"), out.String()); d != "" {
				t.Errorf("output (-want +got):\n%s", d)
			}
		})
	}
}

func TestFormatCell(t *testing.T) {
	for in, want := range map[interface{}]string{nil: "", "a\nb": "a...", json.Number("1000000"): "1000000", true: "true"} {
		if got := formatCell(in); got != want {
			t.Errorf("formatCell(%#v) = %q, want %q", in, got, want)
		}
	}
}

func TestGetAsksForTables(t *testing.T) {
	api := newFakeAPI(t)
	var accept string
	api.handle("GET /api/v1/namespaces/default/pods", func(w http.ResponseWriter, r *http.Request) {
		accept = r.Header.Get("Accept")
		writeJSON(w, 200, podTable(t, []interface{}{"jenkins", "1/1", 0, "10.0.0.5"}))
	})
	api.handle("GET /api/v1/namespaces/default/services", func(w http.ResponseWriter, r *http.Request) {
		tbl := podTable(t, []interface{}{"jenkins", "x", 1, "y"})
		tbl.ColumnDefinitions[1].Name = "Type"
		writeJSON(w, 200, tbl)
	})
	var out, errOut bytes.Buffer
	err := runGet(t.Context(), api.clients(t), Streams{Out: &out, ErrOut: &errOut}, &getOptions{sel: selectors{label: "app=x"}}, []string{"po,svc"})
	if err != nil {
		t.Fatal(err)
	}
	if accept != tableAccept {
		t.Errorf("Accept = %q, want %q", accept, tableAccept)
	}
	want := `NAME          READY   RESTARTS
pod/jenkins   1/1     0

NAME              TYPE   RESTARTS
service/jenkins   x      1
`
	if d := cmp.Diff(want, out.String()); d != "" {
		t.Errorf("output (-want +got):\n%s", d)
	}
	if got := api.recorded()[0]; !strings.Contains(got, "labelSelector=app%3Dx") {
		t.Errorf("request %q lacks the label selector", got)
	}
}

func TestGetNotFoundAndEmpty(t *testing.T) {
	api := newFakeAPI(t)
	api.handle("GET /api/v1/namespaces/default/pods", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, podTable(t))
	})
	var out, errOut bytes.Buffer
	s := Streams{Out: &out, ErrOut: &errOut}
	if err := runGet(t.Context(), api.clients(t), s, &getOptions{}, []string{"pods"}); err != nil {
		t.Fatal(err)
	}
	if got := errOut.String(); got != "No resources found in default namespace.\n" {
		t.Errorf("stderr = %q", got)
	}
	errOut.Reset()
	err := runGet(t.Context(), api.clients(t), s, &getOptions{}, []string{"pods", "missing"})
	if err == nil || !strings.Contains(errOut.String(), "NotFound") {
		t.Errorf("err = %v, stderr = %q; want a NotFound report", err, errOut.String())
	}
}
