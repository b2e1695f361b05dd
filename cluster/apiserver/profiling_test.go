package apiserver_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// /debug/pprof/ (drover server --profiling): off, it is not there (404 to the admin); on, the
// admin (system:masters) gets the profiles, an anonymous caller 401 and an authenticated user
// without a rule for the non-resource URL 403.
func TestProfiling(t *testing.T) {
	get := func(t *testing.T, url string, hdr map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	admin := map[string]string{"Authorization": "Bearer secret"}
	for _, on := range []bool{false, true} {
		srv, err := apiserver.New(apiserver.Config{Store: memstore.New(), Tokens: map[string]string{"secret": "admin"},
			Metrics: prometheus.NewRegistry(), Profiling: on})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv.Handler())
		defer hs.Close()
		if !on {
			for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
				if code, body := get(t, hs.URL+p, admin); code != http.StatusNotFound {
					t.Errorf("profiling off: GET %s as admin = %d, want 404: %.200s", p, code, body)
				}
			}
			continue
		}
		code, body := get(t, hs.URL+"/debug/pprof/", admin)
		if code != http.StatusOK || !strings.Contains(body, "goroutine") {
			t.Errorf("GET /debug/pprof/ as admin = %d: %.300s", code, body)
		}
		if code, body := get(t, hs.URL+"/debug/pprof/heap", admin); code != http.StatusOK || len(body) == 0 {
			t.Errorf("GET /debug/pprof/heap as admin = %d (%d bytes)", code, len(body))
		}
		if code, _ := get(t, hs.URL+"/debug/pprof/heap", nil); code != http.StatusUnauthorized {
			t.Errorf("GET /debug/pprof/heap without a token = %d, want 401", code)
		}
		bob := map[string]string{"Authorization": "Bearer secret", "Impersonate-User": "bob"}
		if code, _ := get(t, hs.URL+"/debug/pprof/heap", bob); code != http.StatusForbidden {
			t.Errorf("GET /debug/pprof/heap as bob (no rule for it) = %d, want 403", code)
		}
	}
}
