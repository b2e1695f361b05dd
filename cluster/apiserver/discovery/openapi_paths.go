package discovery

import (
	authenticationv1 "k8s.io/api/authentication/v1"
	"reflect"
	"slices"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover-ci/drover/cluster/registry"
)

// openapiOp is one HTTP operation of a path, rendered to OpenAPI v2 and v3 alike.
type openapiOp struct {
	method string // get, put, post, patch, delete
	action string // x-kubernetes-action
	id     string // operationId
	gvk    schema.GroupVersionKind
	body   reflect.Type // request body type; nil for none
	resp   reflect.Type // response type; nil for text (pods/log)
	query  []string     // query parameter names, see openapiParams
}

// openapiPath is one URL path with its path parameters and operations.
type openapiPath struct {
	path   string
	params []string // path parameters, in order: namespace, name
	ops    []openapiOp
}

var (
	openapiTypeDeleteOptions = reflect.TypeOf(metav1.DeleteOptions{})
	openapiTypeStatus        = reflect.TypeOf(metav1.Status{})
	openapiTypePatch         = reflect.TypeOf(metav1.Patch{})
	// openapiSubTypes are the Go types of the kinds subresources take and return besides
	// their parent's.
	openapiSubTypes = map[schema.GroupVersionKind]reflect.Type{
		{Group: "autoscaling", Version: "v1", Kind: "Scale"}:                  reflect.TypeOf(autoscalingv1.Scale{}),
		{Version: "v1", Kind: "Binding"}:                                      reflect.TypeOf(corev1.Binding{}),
		{Group: "policy", Version: "v1", Kind: "Eviction"}:                    reflect.TypeOf(policyv1.Eviction{}),
		{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}: reflect.TypeOf(authenticationv1.TokenRequest{}),
	}
	openapiQueryList   = []string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"}
	openapiQueryWrite  = []string{"dryRun", "fieldManager", "fieldValidation"}
	openapiQueryPatch  = []string{"dryRun", "fieldManager", "fieldValidation", "force"}
	openapiQueryDelete = []string{"dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy"}
	openapiQueryLog    = []string{"container", "follow", "limitBytes", "previous", "sinceSeconds", "tailLines", "timestamps"}
)

// openapiTypeOf is the struct type behind a runtime.Object constructor's result.
func openapiTypeOf(v interface{}) reflect.Type {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Ptr {
		t = t.Elem()
	}
	return t
}

// openapiResourcePaths lists the paths kube-apiserver serves for r (without the deprecated
// /watch/ paths).
func openapiResourcePaths(r *registry.Resource) []openapiPath {
	obj, list := openapiTypeOf(r.New()), openapiTypeOf(r.NewList())
	gvk := r.GroupVersionKind()
	prefix := pathOf(r.Group, r.Version)
	coll, params, scope := prefix+"/"+r.Resource, []string(nil), ""
	if r.Namespaced {
		coll, params, scope = prefix+"/namespaces/{namespace}/"+r.Resource, []string{"namespace"}, "Namespaced"
	}
	id := func(verb, suffix string) string { return verb + openapiGroupVersionID(gvk) + scope + r.Kind + suffix }
	paths := []openapiPath{
		{path: coll, params: params, ops: []openapiOp{
			{method: "get", action: "list", id: id("list", ""), gvk: gvk, resp: list, query: openapiQueryList},
			{method: "post", action: "post", id: id("create", ""), gvk: gvk, body: obj, resp: obj, query: openapiQueryWrite},
			{method: "delete", action: "deletecollection", id: id("deleteCollection", ""), gvk: gvk, body: openapiTypeDeleteOptions, resp: openapiTypeStatus,
				query: append(append([]string{}, openapiQueryList...), openapiQueryDelete...)},
		}},
		{path: coll + "/{name}", params: append(params, "name"), ops: []openapiOp{
			{method: "get", action: "get", id: id("read", ""), gvk: gvk, resp: obj},
			{method: "put", action: "put", id: id("replace", ""), gvk: gvk, body: obj, resp: obj, query: openapiQueryWrite},
			{method: "patch", action: "patch", id: id("patch", ""), gvk: gvk, body: openapiTypePatch, resp: obj, query: openapiQueryPatch},
			{method: "delete", action: "delete", id: id("delete", ""), gvk: gvk, body: openapiTypeDeleteOptions, resp: openapiTypeStatus, query: openapiQueryDelete},
		}},
	}
	if r.Namespaced {
		paths = append(paths, openapiPath{path: prefix + "/" + r.Resource, ops: []openapiOp{
			{method: "get", action: "list", id: "list" + openapiGroupVersionID(gvk) + r.Kind + "ForAllNamespaces", gvk: gvk, resp: list, query: openapiQueryList},
		}})
	}
	for _, sub := range r.Subresources {
		p := openapiPath{path: coll + "/{name}/" + sub, params: append(append([]string{}, params...), "name")}
		p.ops = openapiSubOps(r, sub, func(verb string) string { return id(verb, openapiCamel(sub)) })
		paths = append(paths, p)
	}
	if r.Verbs != nil {
		return onlyVerbs(paths, r.Verbs)
	}
	return paths
}

// onlyVerbs keeps the operations of paths whose verbs are in verbs, and the paths left with any.
func onlyVerbs(paths []openapiPath, verbs []string) []openapiPath {
	verbOf := map[string]string{"list": "list", "post": "create", "deletecollection": "deletecollection",
		"get": "get", "put": "update", "patch": "patch", "delete": "delete"}
	var out []openapiPath
	for _, p := range paths {
		var ops []openapiOp
		for _, op := range p.ops {
			if slices.Contains(verbs, verbOf[op.action]) {
				ops = append(ops, op)
			}
		}
		if len(ops) > 0 {
			p.ops = ops
			out = append(out, p)
		}
	}
	return out
}

// openapiSubOps are the operations of subresource sub of r, by the verbs discovery lists.
func openapiSubOps(r *registry.Resource, sub string, id func(verb string) string) []openapiOp {
	d := subresourceOf(r, sub)
	t, ok := openapiSubTypes[d.gvk]
	if !ok {
		t = openapiTypeOf(r.New())
	}
	var ops []openapiOp
	for _, verb := range d.verbs {
		switch {
		case sub == "log":
			ops = append(ops, openapiOp{method: "get", action: "get", id: id("read"), gvk: d.gvk, query: openapiQueryLog})
		case verb == "get":
			ops = append(ops, openapiOp{method: "get", action: "get", id: id("read"), gvk: d.gvk, resp: t})
		case verb == "update":
			ops = append(ops, openapiOp{method: "put", action: "put", id: id("replace"), gvk: d.gvk, body: t, resp: t, query: openapiQueryWrite})
		case verb == "patch":
			ops = append(ops, openapiOp{method: "patch", action: "patch", id: id("patch"), gvk: d.gvk, body: openapiTypePatch, resp: t, query: openapiQueryPatch})
		case verb == "create":
			ops = append(ops, openapiOp{method: "post", action: "post", id: id("create"), gvk: d.gvk, body: t, resp: t, query: openapiQueryWrite})
		}
	}
	return ops
}

// openapiGroupVersionID is the group and version part of Kubernetes operation IDs:
// "CoreV1", "BatchV1", "CoordinationV1".
func openapiGroupVersionID(gvk schema.GroupVersionKind) string {
	g := "core"
	if gvk.Group != "" {
		g, _, _ = strings.Cut(gvk.Group, ".")
	}
	return openapiCamel(g) + openapiCamel(gvk.Version)
}

func openapiCamel(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
