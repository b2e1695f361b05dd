package discovery

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

func testServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(testResources(), testVersion()))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url, accept string, into interface{}) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("GET %s: %v in %s", url, err, b)
		}
	}
	return resp
}

func TestDiscoveryLegacyCoreResources(t *testing.T) {
	srv := testServer(t)
	var list metav1.APIResourceList
	resp := get(t, srv.URL+"/api/v1", "application/json", &list)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	got := map[string]metav1.APIResource{}
	for _, r := range list.APIResources {
		got[r.Name] = r
	}
	want := map[string]metav1.APIResource{
		"pods/binding": {Name: "pods/binding", Namespaced: true, Kind: "Binding", Verbs: metav1.Verbs{"create"}},
		"pods/log":     {Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get"}},
		"pods/status":  {Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "patch", "update"}},
		"replicationcontrollers/scale": {Name: "replicationcontrollers/scale", Namespaced: true, Group: "autoscaling", Version: "v1",
			Kind: "Scale", Verbs: metav1.Verbs{"get", "patch", "update"}},
		"namespaces/finalize": {Name: "namespaces/finalize", Kind: "Namespace", Verbs: metav1.Verbs{"update"}},
	}
	for name, w := range want {
		if diff := cmp.Diff(w, got[name]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	pods := got["pods"]
	pods.StorageVersionHash = ""
	wantPods := metav1.APIResource{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", Verbs: resourceVerbs,
		ShortNames: []string{"po"}, Categories: []string{"all"}}
	if diff := cmp.Diff(wantPods, pods); diff != "" {
		t.Errorf("pods (-want +got):\n%s", diff)
	}
	if list.GroupVersion != "v1" || list.Kind != "APIResourceList" {
		t.Errorf("list header = %q %q", list.GroupVersion, list.Kind)
	}
}

func TestDiscoveryLegacyGroups(t *testing.T) {
	srv := testServer(t)
	var versions metav1.APIVersions
	get(t, srv.URL+"/api", "application/json", &versions)
	if diff := cmp.Diff([]string{"v1"}, versions.Versions); diff != "" {
		t.Errorf("/api versions (-want +got):\n%s", diff)
	}
	var groups metav1.APIGroupList
	get(t, srv.URL+"/apis", "", &groups)
	var names []string
	for _, g := range groups.Groups {
		names = append(names, g.Name+" "+g.PreferredVersion.GroupVersion)
	}
	if diff := cmp.Diff([]string{"batch batch/v1", "coordination.k8s.io coordination.k8s.io/v1"}, names); diff != "" {
		t.Errorf("/apis groups (-want +got):\n%s", diff)
	}
	var group metav1.APIGroup
	get(t, srv.URL+"/apis/batch", "", &group)
	if group.Name != "batch" || len(group.Versions) != 1 || group.Versions[0].Version != "v1" {
		t.Errorf("/apis/batch = %+v", group)
	}
	var batch metav1.APIResourceList
	get(t, srv.URL+"/apis/batch/v1", "", &batch)
	if batch.GroupVersion != "batch/v1" || len(batch.APIResources) != 4 {
		t.Errorf("/apis/batch/v1 = %+v, want cronjobs, jobs and their status", batch)
	}
	var st metav1.Status
	if resp := get(t, srv.URL+"/apis/apps/v1", "", &st); resp.StatusCode != http.StatusNotFound || st.Reason != metav1.StatusReasonNotFound {
		t.Errorf("/apis/apps/v1 = %d %+v, want a 404 Status", resp.StatusCode, st)
	}
}

func TestDiscoveryAggregatedOnlyWhenAsked(t *testing.T) {
	srv := testServer(t)
	resp := get(t, srv.URL+"/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json", nil)
	if ct := resp.Header.Get("Content-Type"); ct != aggregatedType {
		t.Errorf("aggregated Content-Type = %q", ct)
	}
	resp = get(t, srv.URL+"/apis", "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", nil)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("v2beta1-only Accept got Content-Type %q, want legacy application/json", ct)
	}
}

// client-go must see the same groups and resources whether it reads aggregated or legacy
// discovery.
func TestDiscoveryClientGoAggregatedMatchesLegacy(t *testing.T) {
	srv := testServer(t)
	dc := discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: srv.URL})
	read := func(d discovery.DiscoveryInterface) map[string][]string {
		_, lists, err := d.ServerGroupsAndResources()
		if err != nil {
			t.Fatalf("ServerGroupsAndResources: %v", err)
		}
		out := map[string][]string{}
		for _, l := range lists {
			for _, r := range l.APIResources {
				gv, _ := schema.ParseGroupVersion(l.GroupVersion)
				if r.Group != "" || r.Version != "" {
					gv = schema.GroupVersion{Group: r.Group, Version: r.Version}
				}
				out[l.GroupVersion] = append(out[l.GroupVersion], r.Name+" "+gv.WithKind(r.Kind).String()+" "+r.Verbs.String())
			}
			sort.Strings(out[l.GroupVersion])
		}
		return out
	}
	aggregated, legacy := read(dc), read(dc.WithLegacy())
	if diff := cmp.Diff(legacy, aggregated); diff != "" {
		t.Errorf("aggregated discovery differs from legacy (-legacy +aggregated):\n%s", diff)
	}
	if len(legacy["v1"]) != 6+3+1+2+2+1 {
		t.Errorf("core v1 has %d entries: %v", len(legacy["v1"]), legacy["v1"])
	}
	v, err := dc.ServerVersion()
	if err != nil || v.GitVersion != testVersion().GitVersion {
		t.Errorf("ServerVersion = %+v, %v", v, err)
	}
}

func TestDiscoveryETagAndMethods(t *testing.T) {
	srv := testServer(t)
	resp := get(t, srv.URL+"/api/v1", "", nil)
	etag := resp.Header.Get("Etag")
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1", nil)
	req.Header.Set("If-None-Match", etag)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if etag == "" || resp2.StatusCode != http.StatusNotModified {
		t.Errorf("ETag %q revalidation gave %d, want 304", etag, resp2.StatusCode)
	}
	resp3, err := http.Post(srv.URL+"/api", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp3.Body.Close()
	if resp3.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api = %d, want 405", resp3.StatusCode)
	}
}

func TestIsDiscoveryPath(t *testing.T) {
	for path, want := range map[string]bool{
		"/api": true, "/api/": true, "/api/v1": true, "/apis": true, "/apis/batch": true, "/apis/batch/v1": true,
		"/version": true, "/openapi/v2": true, "/openapi/v3": true, "/openapi/v3/apis/batch/v1": true,
		"/api/v1/pods": false, "/api/v1/namespaces/default/pods": false, "/apis/batch/v1/jobs": false,
		"/apis/batch/v1/namespaces/x/jobs": false, "/healthz": false, "/": false, "/apis//v1": false, "/apiss": false,
	} {
		if got := IsPath(path); got != want {
			t.Errorf("IsPath(%q) = %v, want %v", path, got, want)
		}
	}
}
