package consulstore_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/store/consulstore"
	"github.com/drover-ci/drover/cluster/store/consulstore/consultest"
)

// TestReadsAreConsistent: the reads a write depends on (Get before an unconditional update or
// delete, the re-read after a failed check-and-set, lists the API server serves and builds on,
// the readiness read) ask Consul for `consistent` reads: the default mode may answer from a
// leader that has just lost leadership, so a decision could rest on a stale value. Only the
// watch loop's blocking queries (which carry an index) may be served otherwise.
func TestReadsAreConsistent(t *testing.T) {
	a := consultest.Start(t)
	target, _ := url.Parse("http://" + a.Addr)
	var mu sync.Mutex
	var reads []string
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/kv/") && !r.URL.Query().Has("index") {
			mu.Lock()
			reads = append(reads, r.URL.RequestURI())
			mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	s, err := consulstore.New(consulstore.Config{Address: proxy.URL, Prefix: "drover-consistent/", WaitTime: 10 * time.Second, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	rev, err := s.Create(ctx, "a/k", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a/k"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.List(ctx, "a/"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "a/k", []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "a/k", []byte("3"), rev); err == nil {
		t.Fatal("stale update succeeded")
	}
	if _, err := s.Delete(ctx, "a/k", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revision(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reads) < 6 {
		t.Fatalf("only %d KV reads seen through the proxy: %v", len(reads), reads)
	}
	for _, r := range reads {
		u, _ := url.Parse(r)
		if !u.Query().Has("consistent") {
			t.Errorf("KV read without consistent: %s", r)
		}
	}
}
