package discovery

import (
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/registry"
)

// The groups of issue 13 in discovery, legacy and aggregated: autoscaling lists v2 first and
// prefers it, as kube-apiserver 1.32 does; the scalable apps kinds have scale subresources of
// kind autoscaling/v1 Scale.
func TestDiscoveryAppsPolicyAutoscaling(t *testing.T) {
	srv := httptest.NewServer(New(registry.Resources().All(), testVersion()))
	t.Cleanup(srv.Close)
	var group metav1.APIGroup
	get(t, srv.URL+"/apis/autoscaling", "", &group)
	var versions []string
	for _, v := range group.Versions {
		versions = append(versions, v.GroupVersion)
	}
	if diff := cmp.Diff([]string{"autoscaling/v2", "autoscaling/v1"}, versions); diff != "" || group.PreferredVersion.Version != "v2" {
		t.Errorf("/apis/autoscaling versions (-want +got):\n%s preferred %s", diff, group.PreferredVersion.Version)
	}
	var apps metav1.APIResourceList
	get(t, srv.URL+"/apis/apps/v1", "", &apps)
	subs := map[string]string{}
	for _, r := range apps.APIResources {
		subs[r.Name] = r.Group + "/" + r.Version + "/" + r.Kind
	}
	for _, name := range []string{"deployments/scale", "replicasets/scale", "statefulsets/scale"} {
		if subs[name] != "autoscaling/v1/Scale" {
			t.Errorf("%s: %q, want autoscaling/v1 Scale", name, subs[name])
		}
	}
	if _, ok := subs["daemonsets/scale"]; ok {
		t.Error("daemonsets have a scale subresource")
	}
	var agg apidiscoveryv2.APIGroupDiscoveryList
	get(t, srv.URL+"/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", &agg)
	found := map[string][]string{}
	for _, g := range agg.Items {
		for _, v := range g.Versions {
			found[g.Name] = append(found[g.Name], v.Version)
		}
	}
	want := map[string][]string{"apps": {"v1"}, "autoscaling": {"v2", "v1"}, "policy": {"v1"}}
	for g, v := range want {
		if diff := cmp.Diff(v, found[g]); diff != "" {
			t.Errorf("aggregated %s versions (-want +got):\n%s", g, diff)
		}
	}
}
