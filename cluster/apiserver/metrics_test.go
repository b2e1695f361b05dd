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

// /metrics serves the configured gatherer in the Prometheus text format; it needs the bearer
// token like the API, unless AnonymousMetrics opens it.
func TestMetricsEndpoint(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "drover_test_things_total", Help: "things"})
	reg.MustRegister(c)
	c.Add(3)
	srv, err := apiserver.New(apiserver.Config{Store: memstore.New(), Tokens: map[string]string{"secret": "admin"}, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without a token = %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer secret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", resp.StatusCode, body)
	}
	if !strings.Contains(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("Content-Type = %q, want the text format", resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(string(body), "drover_test_things_total 3") {
		t.Errorf("/metrics does not show the registry's counter:\n%s", body)
	}
	resp, err = http.Get(hs.URL + "/api/v1/pods")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/pods without a token = %d, want 401", resp.StatusCode)
	}
}

// With AnonymousMetrics (drover server --metrics-anonymous) /metrics answers without a token;
// the API still needs one.
func TestMetricsAnonymous(t *testing.T) {
	srv, err := apiserver.New(apiserver.Config{Store: memstore.New(), Tokens: map[string]string{"secret": "admin"},
		Metrics: prometheus.NewRegistry(), AnonymousMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	for path, want := range map[string]int{"/metrics": http.StatusOK, "/api/v1/pods": http.StatusUnauthorized} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s without a token = %d, want %d", path, resp.StatusCode, want)
		}
	}
}
