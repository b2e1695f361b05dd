package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// testResources is the discovery document of the fake API: core pods, rcs, services, nodes,
// events and batch jobs.
var testResources = []*metav1.APIResourceList{
	{
		GroupVersion: "v1",
		APIResources: []metav1.APIResource{
			{Name: "pods", SingularName: "pod", Namespaced: true, Kind: "Pod", ShortNames: []string{"po"}, Categories: []string{"all"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
			{Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: []string{"get"}},
			{Name: "replicationcontrollers", SingularName: "replicationcontroller", Namespaced: true, Kind: "ReplicationController", ShortNames: []string{"rc"}, Categories: []string{"all"}, Verbs: []string{"get", "list", "create", "update", "patch", "delete"}},
			{Name: "replicationcontrollers/scale", Namespaced: true, Kind: "Scale", Group: "autoscaling", Version: "v1", Verbs: []string{"get", "update"}},
			{Name: "services", SingularName: "service", Namespaced: true, Kind: "Service", ShortNames: []string{"svc"}, Categories: []string{"all"}, Verbs: []string{"get", "list", "create"}},
			{Name: "nodes", SingularName: "node", Namespaced: false, Kind: "Node", ShortNames: []string{"no"}, Verbs: []string{"get", "list"}},
			{Name: "events", SingularName: "event", Namespaced: true, Kind: "Event", ShortNames: []string{"ev"}, Verbs: []string{"get", "list"}},
		},
	},
	{
		GroupVersion: "batch/v1",
		APIResources: []metav1.APIResource{
			{Name: "jobs", SingularName: "job", Namespaced: true, Kind: "Job", Categories: []string{"all"}, Verbs: []string{"get", "list", "create"}},
		},
	},
}

// fakeAPI is an httptest server answering discovery and whatever handlers a test adds.
type fakeAPI struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // "METHOD PATH?QUERY" of non-discovery requests
	handlers map[string]http.HandlerFunc
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{handlers: map[string]http.HandlerFunc{}}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// handle registers a handler for "METHOD /path".
func (f *fakeAPI) handle(route string, h http.HandlerFunc) { f.handlers[route] = h }

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api":
		writeJSON(w, 200, metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
		return
	case "/apis":
		writeJSON(w, 200, metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{{
			Name:             "batch",
			Versions:         []metav1.GroupVersionForDiscovery{{GroupVersion: "batch/v1", Version: "v1"}},
			PreferredVersion: metav1.GroupVersionForDiscovery{GroupVersion: "batch/v1", Version: "v1"},
		}}})
		return
	case "/api/v1":
		writeJSON(w, 200, testResources[0])
		return
	case "/apis/batch/v1":
		writeJSON(w, 200, testResources[1])
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
	h := f.handlers[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	if h == nil {
		writeJSON(w, 404, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
			Reason: metav1.StatusReasonNotFound, Code: 404, Message: "not found: " + r.URL.Path,
			Details: &metav1.StatusDetails{Name: lastSegment(r.URL.Path)}})
		return
	}
	h(w, r)
}

func (f *fakeAPI) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func lastSegment(p string) string { return p[strings.LastIndex(p, "/")+1:] }

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// clients returns clients talking to the fake API in namespace "default".
func (f *fakeAPI) clients(t *testing.T) *clients {
	t.Helper()
	c, err := newClients(&rest.Config{Host: f.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}, "default")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var metavOpts = metav1.GetOptions{}
