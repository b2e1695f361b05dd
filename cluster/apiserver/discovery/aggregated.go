package discovery

import (
	"mime"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/registry"
)

// aggregatedType is the Content-Type of aggregated discovery (apidiscovery.k8s.io/v2),
// which client-go 0.32 asks for first on /api and /apis: one request then gives every group,
// version and resource, instead of one request per group version.
const aggregatedType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// wantsAggregated reports whether an Accept header lists aggregated discovery v2.
// client-go sends "…;v=v2;as=APIGroupDiscoveryList,…;v=v2beta1;…,application/json" and takes
// whichever the Content-Type of the answer says.
func wantsAggregated(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		base, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || base != "application/json" {
			continue
		}
		if params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" && params["as"] == "APIGroupDiscoveryList" {
			return params["q"] != "0"
		}
	}
	return false
}

// aggregatedDocs returns the aggregated documents for /api (the core group) and /apis
// (every named group).
func aggregatedDocs(groups []*groupVersions) (core, named *apidiscoveryv2.APIGroupDiscoveryList) {
	core = newAggregatedList()
	named = newAggregatedList()
	for _, g := range groups {
		item := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.name}}
		for _, v := range g.all {
			if rv, ok := g.remote[v]; ok {
				item.Versions = append(item.Versions, rv.discovery())
				continue
			}
			item.Versions = append(item.Versions, apidiscoveryv2.APIVersionDiscovery{
				Version:   v,
				Resources: aggregatedResources(g.byVer[v]),
				Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
			})
		}
		if g.name == "" {
			core.Items = append(core.Items, item)
		} else {
			named.Items = append(named.Items, item)
		}
	}
	return core, named
}

func newAggregatedList() *apidiscoveryv2.APIGroupDiscoveryList {
	return &apidiscoveryv2.APIGroupDiscoveryList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"},
		Items:    []apidiscoveryv2.APIGroupDiscovery{},
	}
}

func aggregatedResources(rs []*registry.Resource) []apidiscoveryv2.APIResourceDiscovery {
	var out []apidiscoveryv2.APIResourceDiscovery
	for _, r := range rs {
		scope := apidiscoveryv2.ScopeCluster
		if r.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		gvk := r.GroupVersionKind()
		d := apidiscoveryv2.APIResourceDiscovery{
			Resource:         r.Resource,
			ResponseKind:     &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			Scope:            scope,
			SingularResource: singular(r),
			Verbs:            verbsOf(r),
			ShortNames:       r.ShortNames,
			Categories:       r.Categories,
		}
		for _, sub := range r.Subresources {
			s := subresourceOf(r, sub)
			d.Subresources = append(d.Subresources, apidiscoveryv2.APISubresourceDiscovery{
				Subresource:  sub,
				ResponseKind: &metav1.GroupVersionKind{Group: s.gvk.Group, Version: s.gvk.Version, Kind: s.gvk.Kind},
				Verbs:        s.verbs,
			})
		}
		out = append(out, d)
	}
	return out
}
