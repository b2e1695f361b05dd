package apiserver

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/drover-ci/drover/cluster/registry"
)

// output is what the client asked for in its Accept header.
type output struct {
	table        bool
	tableVersion string // "v1" or "v1beta1"
	yaml         bool
	include      metav1.IncludeObjectPolicy
}

// negotiate reads Accept: the first acceptable media type wins; JSON when none is named.
func negotiate(r *http.Request) output {
	out := output{include: metav1.IncludeMetadata}
	switch v := metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject")); v {
	case metav1.IncludeNone, metav1.IncludeObject:
		out.include = v
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json":
			switch params["as"] {
			case "":
				return out
			case "Table":
				if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
					out.table, out.tableVersion = true, params["v"]
					return out
				}
			}
		case "application/yaml":
			if params["as"] == "" {
				out.yaml = true
				return out
			}
		case "*/*", "application/*":
			return out
		}
	}
	return out
}

// notAcceptable is Kubernetes' 406 when no media type of Accept can be served (the serializer's
// types, as kube-apiserver lists them).
func notAcceptable() error {
	return statusError(http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
		"only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf")
}

// tableRefused reports whether the answer to req cannot be a Table, as in Kubernetes where
// their storage has no TableConvertor: the create-only reviews (tokenreviews,
// selfsubjectreviews, ...) and the binding, eviction and token subresources.
func tableRefused(req *request) bool {
	switch req.subresource {
	case "binding", "eviction", "token":
		return true
	case "":
		return len(req.res.Verbs) == 1 && req.res.Verbs[0] == "create"
	}
	return false
}

// checkAcceptable answers 406 Not Acceptable, before anything is done, when Accept asks only
// for a Table and req's answer cannot be one (Kubernetes' negotiation: another acceptable media
// type in the list, e.g. plain application/json, is used instead).
func checkAcceptable(r *http.Request, req *request) error {
	if !tableRefused(req) {
		return nil
	}
	sawTable, other := false, false
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		_, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && params["as"] == "Table" {
			sawTable = true
		} else {
			other = true
		}
	}
	if sawTable && !other {
		return notAcceptable()
	}
	return nil
}

// writeObject answers with one object.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, req *request, code int, obj runtime.Object) {
	out := negotiate(r)
	if out.table && (req.subresource == "" || req.subresource == "status") {
		t, err := tableFor(req.res, []runtime.Object{obj}, out)
		if err != nil {
			writeError(w, err)
			return
		}
		t.ResourceVersion = accessor(obj).GetResourceVersion()
		writeEncoded(w, code, t, out)
		return
	}
	writeEncoded(w, code, obj, out)
}

// writeList answers with a typed list (or a Table) of objs at revision rev.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, req *request, objs []runtime.Object, rev int64) {
	s.writePage(w, r, req, objs, rev, pageMeta{})
}

// writePage is writeList for one page of a paged list.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, req *request, objs []runtime.Object, rev int64, pm pageMeta) {
	out := negotiate(r)
	if out.table {
		t, err := tableFor(req.res, objs, out)
		if err != nil {
			writeError(w, err)
			return
		}
		t.ResourceVersion = strconv.FormatInt(rev, 10)
		t.Continue, t.RemainingItemCount = pm.cont, pm.remaining
		writeEncoded(w, http.StatusOK, t, out)
		return
	}
	list := req.res.NewList()
	if err := meta.SetList(list, objs); err != nil {
		writeError(w, err)
		return
	}
	if lm, err := meta.ListAccessor(list); err == nil {
		lm.SetResourceVersion(strconv.FormatInt(rev, 10))
		lm.SetContinue(pm.cont)
		lm.SetRemainingItemCount(pm.remaining)
	}
	list.GetObjectKind().SetGroupVersionKind(req.res.GroupVersion().WithKind(req.res.ListKind))
	writeEncoded(w, http.StatusOK, list, out)
}

func writeEncoded(w http.ResponseWriter, code int, v interface{}, out output) {
	if !out.yaml {
		writeJSON(w, code, v)
		return
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// tableFor converts objects with the resource's Table (NAME and AGE when it has none).
func tableFor(res *registry.Resource, objs []runtime.Object, out output) (*metav1.Table, error) {
	tc := res.Table
	if tc == nil {
		tc = defaultTable
	}
	t := &metav1.Table{ColumnDefinitions: tc.Columns, Rows: make([]metav1.TableRow, 0, len(objs))}
	t.APIVersion, t.Kind = "meta.k8s.io/"+out.tableVersion, "Table"
	for _, obj := range objs {
		cells, err := tc.Row(obj)
		if err != nil {
			return nil, err
		}
		row := metav1.TableRow{Cells: cells}
		switch out.include {
		case metav1.IncludeObject:
			b, err := json.Marshal(obj)
			if err != nil {
				return nil, err
			}
			row.Object.Raw = b
		case metav1.IncludeMetadata:
			p := &metav1.PartialObjectMetadata{ObjectMeta: objectMeta(obj)}
			p.APIVersion, p.Kind = "meta.k8s.io/v1", "PartialObjectMetadata"
			b, err := json.Marshal(p)
			if err != nil {
				return nil, err
			}
			row.Object.Raw = b
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

var defaultTable = &registry.Table{
	Columns: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."},
		{Name: "Age", Type: "string", Description: "CreationTimestamp is a timestamp representing the server time when this object was created."},
	},
	Row: func(obj runtime.Object) ([]interface{}, error) {
		m := accessor(obj)
		return []interface{}{m.GetName(), humanAge(m.GetCreationTimestamp())}, nil
	},
}

// objectMeta returns a copy of obj's ObjectMeta.
func objectMeta(obj runtime.Object) metav1.ObjectMeta {
	if a, ok := obj.(metav1.ObjectMetaAccessor); ok {
		if om, ok := a.GetObjectMeta().(*metav1.ObjectMeta); ok {
			return *om.DeepCopy()
		}
	}
	m := accessor(obj)
	return metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
		ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp(),
		Labels: m.GetLabels(), Annotations: m.GetAnnotations()}
}

// humanAge is kubectl's AGE: "<unknown>" for a zero time, else a short duration.
func humanAge(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}
