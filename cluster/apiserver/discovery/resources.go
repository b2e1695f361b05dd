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
	name     string
	versions []string
	byVer    map[string][]*registry.Resource
}

// groupsOf groups resources by group version, keeping group order stable: the core group
// first, then groups by name; within a group, versions in Kubernetes' priority order.
func groupsOf(resources []*registry.Resource) []*groupVersions {
	idx := map[string]*groupVersions{}
	var out []*groupVersions
	for _, r := range resources {
		g := idx[r.Group]
		if g == nil {
			g = &groupVersions{name: r.Group, byVer: map[string][]*registry.Resource{}}
			idx[r.Group] = g
			out = append(out, g)
		}
		if _, ok := g.byVer[r.Version]; !ok {
			g.versions = append(g.versions, r.Version)
		}
		g.byVer[r.Version] = append(g.byVer[r.Version], r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	for _, g := range out {
		// Kubernetes' order, the preferred version first: v2, v1, v1beta1, …
		sort.SliceStable(g.versions, func(i, j int) bool {
			return version.CompareKubeAwareVersionStrings(g.versions[i], g.versions[j]) > 0
		})
		for _, rs := range g.byVer {
			sort.SliceStable(rs, func(i, j int) bool { return rs[i].Resource < rs[j].Resource })
		}
	}
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
// digest of the stored group, version and kind.
func storageHash(r *registry.Resource) string {
	sum := sha256.Sum256([]byte(r.GroupVersionKind().String()))
	return base64.StdEncoding.EncodeToString(sum[:8])
}

// groupVersionString is "v1" for the core group and "group/version" otherwise.
func groupVersionString(group, version string) string {
	return schema.GroupVersion{Group: group, Version: version}.String()
}
