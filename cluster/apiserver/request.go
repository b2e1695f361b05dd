package apiserver

import (
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover-ci/drover/cluster/registry"
)

// request is a parsed resource request: /api/v1/namespaces/NS/RESOURCE/NAME/SUB or
// /apis/GROUP/VERSION/..., with the legacy /watch/ prefix folded into watch.
type request struct {
	res         *registry.Resource
	namespace   string
	name        string
	subresource string
	// rest is the path after a proxy subresource ("" or "/…", its trailing slash kept).
	rest string
	verb string // get list watch create update patch delete deletecollection
}

// errPathNotFound is kube-apiserver's answer for an API path with no resource behind it.
var errPathNotFound = statusError(http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")

// parseRequest reads the path and method. It returns ok=false when the path is not a resource
// path at all (the caller answers 404), and an API error for a resource path it cannot serve
// (among them a resource that is not in resources).
func parseRequest(r *http.Request, resources *registry.Set) (*request, bool, error) {
	segs := splitPath(r.URL.Path)
	var gv schema.GroupVersion
	switch {
	case len(segs) >= 3 && segs[0] == "api":
		gv = schema.GroupVersion{Version: segs[1]}
		segs = segs[2:]
	case len(segs) >= 4 && segs[0] == "apis":
		gv = schema.GroupVersion{Group: segs[1], Version: segs[2]}
		segs = segs[3:]
	default:
		return nil, false, nil
	}
	watchPrefix := false
	if len(segs) > 0 && segs[0] == "watch" {
		watchPrefix, segs = true, segs[1:]
	}
	var resource string
	req := &request{}
	switch {
	case len(segs) >= 3 && segs[0] == "namespaces" && !(len(segs) == 3 && (segs[2] == "status" || segs[2] == "finalize")):
		req.namespace, resource = segs[1], segs[2]
		segs = segs[3:]
	case len(segs) >= 1:
		resource, segs = segs[0], segs[1:]
	default:
		return nil, false, nil
	}
	if len(segs) > 0 {
		req.name = segs[0]
	}
	if len(segs) > 1 {
		req.subresource = segs[1]
	}
	if len(segs) > 2 && req.subresource == "proxy" {
		req.rest = "/" + strings.Join(segs[2:], "/")
		if strings.HasSuffix(r.URL.Path, "/") {
			req.rest += "/"
		}
	} else if len(segs) == 2 && req.subresource == "proxy" && strings.HasSuffix(r.URL.Path, "/") {
		req.rest = "/"
	} else if len(segs) > 2 {
		return nil, true, apierrors.NewNotFound(gv.WithResource(resource).GroupResource(), strings.Join(segs, "/"))
	}
	res, found := resources.Lookup(gv.WithResource(resource))
	if !found || (!res.Namespaced && req.namespace != "") {
		// A path kube-apiserver serves nothing at: its generic 404 (kubectl, whose cached
		// discovery still names a resource of a deleted CRD, prints it as is).
		return nil, true, errPathNotFound
	}
	req.res = res
	if req.subresource != "" && !res.HasSubresource(req.subresource) {
		return nil, true, apierrors.NewNotFound(schema.GroupResource{Group: gv.Group, Resource: resource + "/" + req.subresource}, req.name)
	}
	req.verb = verbFor(r, req.name != "", watchPrefix)
	if req.subresource == "proxy" && (r.Method == http.MethodHead || r.Method == http.MethodOptions) {
		// The proxy connects every method (Kubernetes' proxyMethods), HEAD authorized as get
		// and OPTIONS with the empty verb, as the RequestInfoFactory names them.
		req.verb = "get"
		if r.Method == http.MethodOptions {
			req.verb = "proxy-options"
		}
	}
	if req.verb == "" {
		return nil, true, apierrors.NewMethodNotSupported(res.GroupVersionResource().GroupResource(), r.Method)
	}
	return req, true, nil
}

func verbFor(r *http.Request, named, watchPrefix bool) string {
	q := r.URL.Query()
	watch := watchPrefix || q.Get("watch") == "true" || q.Get("watch") == "1"
	switch r.Method {
	case http.MethodGet:
		switch {
		case watch:
			return "watch"
		case named:
			return "get"
		default:
			return "list"
		}
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		if named {
			return "update"
		}
	case http.MethodPatch:
		if named {
			return "patch"
		}
	case http.MethodDelete:
		if named {
			return "delete"
		}
		return "deletecollection"
	}
	return ""
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// gr returns the group and resource, for errors.
func (q *request) gr() schema.GroupResource {
	return schema.GroupResource{Group: q.res.Group, Resource: q.res.Resource}
}
