package discovery

import (
	"crypto/sha256"
	"encoding/base64"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/drover-ci/drover/cluster/registry"
)

// resourceVerbs are the verbs of every main resource drover serves.
var resourceVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// subresource describes how a subresource appears in discovery and OpenAPI: its verbs and the
// kind it accepts and returns (empty group/version/kind mean "the parent's").
type subresource struct {
	verbs metav1.Verbs
	gvk   schema.GroupVersionKind
}

// subresources are the subresources Kubernetes defines, as kube-apiserver lists them.
var subresources = map[string]subresource{
	"status":   {verbs: metav1.Verbs{"get", "patch", "update"}},
	"scale":    {verbs: metav1.Verbs{"get", "patch", "update"}, gvk: schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}},
	"binding":  {verbs: metav1.Verbs{"create"}, gvk: schema.GroupVersionKind{Version: "v1", Kind: "Binding"}},
	"log":      {verbs: metav1.Verbs{"get"}},
	"finalize": {verbs: metav1.Verbs{"update"}},
	// The connect subresources: what kube-apiserver lists for them.
	"exec":        {verbs: metav1.Verbs{"create", "get"}, gvk: schema.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}},
	"attach":      {verbs: metav1.Verbs{"create", "get"}, gvk: schema.GroupVersionKind{Version: "v1", Kind: "PodAttachOptions"}},
	"portforward": {verbs: metav1.Verbs{"create", "get"}, gvk: schema.GroupVersionKind{Version: "v1", Kind: "PodPortForwardOptions"}},
	"proxy":       {verbs: metav1.Verbs{"create", "delete", "get", "patch", "update"}, gvk: schema.GroupVersionKind{Version: "v1", Kind: "PodProxyOptions"}},
	"token":       {verbs: metav1.Verbs{"create"}, gvk: schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}},
	"eviction":    {verbs: metav1.Verbs{"create"}, gvk: schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}},
}

// SubresourceKind is the kind subresource sub of r takes and returns ("" for r itself):
// autoscaling/v1 Scale for scale, PodExecOptions for pods/exec, r's own kind for status.
func SubresourceKind(r *registry.Resource, sub string) schema.GroupVersionKind {
	if sub == "" {
		return r.GroupVersionKind()
	}
	return subresourceOf(r, sub).gvk
}

// subresourceOf returns the discovery facts of a subresource of r; unknown subresources are
// treated like status (get, patch and update of the parent kind).
func subresourceOf(r *registry.Resource, sub string) subresource {
	d, ok := subresources[sub]
	if !ok {
		d = subresources["status"]
	}
	if d.gvk.Kind == "" {
		d.gvk = r.GroupVersionKind()
	}
	if sub == "proxy" {
		d.gvk.Kind = r.Kind + "ProxyOptions" // PodProxyOptions, ServiceProxyOptions, NodeProxyOptions
	}
	return d
}

// groupVersions is one API group: its versions and each version's resources.
type groupVersions struct {
	name string
	// versions are the versions drover serves itself, in order (the preferred first).
	versions []string
	byVer    map[string][]*registry.Resource
	// all are every version of the group, in order, the remote ones (served by extension
	// API servers, the aggregation layer's APIServices) included.
	all      []string
	remote   map[string]*Remote
	priority registry.APIServicePriority            // the group's: the highest of its versions'
	verPrio  map[string]registry.APIServicePriority // by version
}

// groupsOf groups resources and remote group versions by group, in the aggregation layer's
// order: the core group first, then groups by groupPriorityMinimum (highest first) and name;
// within a group, versions by versionPriority (highest first), then in Kubernetes' version
// order (v2, v1, v1beta1, …).
func groupsOf(resources []*registry.Resource, remote []Remote) []*groupVersions {
	idx := map[string]*groupVersions{}
	var out []*groupVersions
	group := func(name string) *groupVersions {
		g := idx[name]
		if g == nil {
			g = &groupVersions{name: name, byVer: map[string][]*registry.Resource{}, remote: map[string]*Remote{},
				verPrio: map[string]registry.APIServicePriority{}}
			idx[name] = g
			out = append(out, g)
		}
		return g
	}
	for _, r := range resources {
		g := group(r.Group)
		if _, ok := g.byVer[r.Version]; !ok {
			g.versions = append(g.versions, r.Version)
			g.verPrio[r.Version] = registry.LocalPriority(r)
		}
		g.byVer[r.Version] = append(g.byVer[r.Version], r)
	}
	for i := range remote {
		rv := &remote[i]
		if _, local := idx[rv.Group]; local && len(idx[rv.Group].byVer[rv.Version]) > 0 {
			continue // drover serves it itself
		}
		g := group(rv.Group)
		g.remote[rv.Version] = rv
		g.verPrio[rv.Version] = rv.Priority
	}
	for _, g := range out {
		g.all = append(append([]string(nil), g.versions...), mapKeys(g.remote)...)
		byPriority := func(vs []string) {
			sort.SliceStable(vs, func(i, j int) bool {
				pi, pj := g.verPrio[vs[i]].Version, g.verPrio[vs[j]].Version
				if pi != pj {
					return pi > pj
				}
				return version.CompareKubeAwareVersionStrings(vs[i], vs[j]) > 0
			})
		}
		byPriority(g.versions)
		byPriority(g.all)
		for _, p := range g.verPrio {
			g.priority.Group = max(g.priority.Group, p.Group)
		}
		for _, rs := range g.byVer {
			sort.SliceStable(rs, func(i, j int) bool { return rs[i].Resource < rs[j].Resource })
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.name == "") != (b.name == "") {
			return a.name == ""
		}
		if a.priority.Group != b.priority.Group {
			return a.priority.Group > b.priority.Group
		}
		return a.name < b.name
	})
	return out
}

func mapKeys(m map[string]*Remote) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// apiResources lists a group version's resources and subresources the way
// /api/v1 and /apis/{group}/{version} show them.
func apiResources(rs []*registry.Resource) []metav1.APIResource {
	var out []metav1.APIResource
	for _, r := range rs {
		out = append(out, metav1.APIResource{
			Name:               r.Resource,
			SingularName:       singular(r),
			Namespaced:         r.Namespaced,
			Kind:               r.Kind,
			Verbs:              verbsOf(r),
			ShortNames:         r.ShortNames,
			Categories:         r.Categories,
			StorageVersionHash: storageHash(r),
		})
		for _, sub := range r.Subresources {
			d := subresourceOf(r, sub)
			e := metav1.APIResource{
				Name:       r.Resource + "/" + sub,
				Namespaced: r.Namespaced,
				Kind:       d.gvk.Kind,
				Verbs:      d.verbs,
			}
			if d.gvk.GroupVersion() != r.GroupVersion() {
				e.Group, e.Version = d.gvk.Group, d.gvk.Version
			}
			out = append(out, e)
		}
	}
	return out
}

// verbsOf is the verbs r serves: its own (a computed resource), else every verb.
func verbsOf(r *registry.Resource) metav1.Verbs {
	if r.Verbs != nil {
		return metav1.Verbs(r.Verbs)
	}
	return resourceVerbs
}

func singular(r *registry.Resource) string {
	if r.SingularName != "" {
		return r.SingularName
	}
	return lower(r.Kind)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// storageHash is what kube-apiserver publishes as storageVersionHash: an opaque
// digest of the stored group, version and kind (a view's, Resource.Storage, is that of the
// version it is stored in: autoscaling/v1 and v2 HPAs, core/v1 and events.k8s.io/v1 events
// share theirs, as in kube-apiserver).
func storageHash(r *registry.Resource) string {
	gvk := r.GroupVersionKind()
	if r.Storage != nil {
		gvk = r.Storage.Kind
	}
	sum := sha256.Sum256([]byte(gvk.String()))
	return base64.StdEncoding.EncodeToString(sum[:8])
}

// groupVersionString is "v1" for the core group and "group/version" otherwise.
func groupVersionString(group, version string) string {
	return schema.GroupVersion{Group: group, Version: version}.String()
}
