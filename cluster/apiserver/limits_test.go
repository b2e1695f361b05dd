package apiserver

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestInflightLimits: requests over their budget are answered 429 TooManyRequests with
// Retry-After at once; read-only and mutating requests have separate budgets; heartbeats (node
// Leases, the controller manager's Lease, Node status) have their own, so they pass while both
// others are full; watches and health checks are not counted.
func TestInflightLimits(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	h := newInflight(Limits{ReadOnly: 1, Mutating: 1, Heartbeats: 1}).limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("block") == "1" {
			entered.Done()
			<-release
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(method, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// Fill the read-only and the mutating budget with one blocked request each.
	var blocked sync.WaitGroup
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		entered.Add(1)
		blocked.Add(1)
		go func() { defer blocked.Done(); do(m, "/api/v1/namespaces/default/pods?block=1") }()
	}
	entered.Wait()
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/api/v1/pods", http.StatusTooManyRequests},
		{http.MethodDelete, "/api/v1/namespaces/default/pods/p", http.StatusTooManyRequests},
		{http.MethodPut, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1", http.StatusOK},
		{http.MethodPut, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/drover-controller-manager", http.StatusOK},
		{http.MethodPatch, "/api/v1/nodes/node-1/status", http.StatusOK},
		{http.MethodGet, "/api/v1/pods?watch=true", http.StatusOK},
		{http.MethodGet, "/readyz", http.StatusOK},
		{http.MethodGet, "/api/v1/namespaces/default/pods/p/log", http.StatusOK},
	} {
		resp := do(tc.method, tc.path)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s with both budgets full: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("%s %s: Retry-After %q, want 1", tc.method, tc.path, resp.Header.Get("Retry-After"))
		}
	}
	close(release)
	blocked.Wait()
	if resp := do(http.MethodGet, "/api/v1/pods"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET after the budget freed: %d", resp.StatusCode)
	}
}
