package apiserver

import (
	"net/http"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover-ci/drover/cluster/registry"
)

var (
	schemaNone = schema.GroupResource{}
)

// selection is a parsed labelSelector and fieldSelector.
type selection struct {
	labels labels.Selector
	fields fields.Selector
}

// parseSelectors reads labelSelector and fieldSelector; a field the resource cannot select on
// is a 400, as in Kubernetes.
func parseSelectors(r *http.Request, res *registry.Resource) (*selection, error) {
	q := r.URL.Query()
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return nil, badRequest("unable to parse requirement: %v", err)
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return nil, badRequest("invalid field selector: %v", err)
	}
	known := objectFields(res, res.New())
	for _, req := range fs.Requirements() {
		if _, ok := known[req.Field]; !ok {
			return nil, badRequest("field label not supported: %s", req.Field)
		}
	}
	return &selection{labels: ls, fields: fs}, nil
}

// matches reports whether obj is selected.
func (sel *selection) matches(res *registry.Resource, obj runtime.Object) bool {
	if sel == nil {
		return true
	}
	if !sel.labels.Empty() && !sel.labels.Matches(labels.Set(accessor(obj).GetLabels())) {
		return false
	}
	if !sel.fields.Empty() && !sel.fields.Matches(objectFields(res, obj)) {
		return false
	}
	return true
}

// objectFields is the selectable field set of obj: metadata.name, metadata.namespace and the
// resource's own.
func objectFields(res *registry.Resource, obj runtime.Object) fields.Set {
	set := fields.Set{}
	if res.Fields != nil {
		for k, v := range res.Fields(obj) {
			set[k] = v
		}
	}
	m := accessor(obj)
	set["metadata.name"] = m.GetName()
	if res.Namespaced {
		set["metadata.namespace"] = m.GetNamespace()
	}
	return set
}
