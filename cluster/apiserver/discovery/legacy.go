package discovery

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// legacyDocs returns the unaggregated discovery documents (the format every client
// understands) keyed by path: /api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version}.
func legacyDocs(groups []*groupVersions) map[string]interface{} {
	docs := map[string]interface{}{}
	apiVersions := &metav1.APIVersions{
		TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{},
	}
	groupList := &metav1.APIGroupList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
		Groups:   []metav1.APIGroup{},
	}
	for _, g := range groups {
		for _, v := range g.versions { // a remote version's document is the extension server's
			gv := groupVersionString(g.name, v)
			docs[pathOf(g.name, v)] = &metav1.APIResourceList{
				TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
				GroupVersion: gv,
				APIResources: apiResources(g.byVer[v]),
			}
		}
		if g.name == "" {
			apiVersions.Versions = g.versions
			continue
		}
		group := apiGroup(g)
		docs["/apis/"+g.name] = &group
		groupList.Groups = append(groupList.Groups, group)
	}
	docs["/api"] = apiVersions
	docs["/apis"] = groupList
	return docs
}

// apiGroup is one named group with its versions, the first one preferred.
func apiGroup(g *groupVersions) metav1.APIGroup {
	group := metav1.APIGroup{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
		Name:     g.name,
	}
	for _, v := range g.all {
		group.Versions = append(group.Versions, metav1.GroupVersionForDiscovery{
			GroupVersion: groupVersionString(g.name, v),
			Version:      v,
		})
	}
	group.PreferredVersion = group.Versions[0]
	return group
}

// pathOf is the URL path of a group version: /api/v1 or /apis/{group}/{version}.
func pathOf(group, version string) string {
	if group == "" {
		return "/api/" + version
	}
	return "/apis/" + group + "/" + version
}
