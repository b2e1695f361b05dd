package apiserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/store"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// breakableStore is a store whose watches can be cut off and refused, as when the watch cache
// loses its store watch and cannot get it back for a while.
type breakableStore struct {
	store.Store
	broken  atomic.Bool
	mu      sync.Mutex
	cancels []context.CancelFunc
}

func (b *breakableStore) Watch(ctx context.Context, prefix string, from int64) (<-chan store.Event, error) {
	if b.broken.Load() {
		return nil, errors.New("store watch refused (test)")
	}
	ctx, cancel := context.WithCancel(ctx)
	b.mu.Lock()
	b.cancels = append(b.cancels, cancel)
	b.mu.Unlock()
	return b.Store.Watch(ctx, prefix, from)
}

func (b *breakableStore) setBroken(on bool) {
	b.broken.Store(on)
	if !on {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.cancels {
		c()
	}
	b.cancels = nil
}

// TestWatchCacheReinitializing: once the watch cache has been ready, a watch or a
// resourceVersion=0 list it cannot serve while it re-initialises is answered 429 "storage is
// (re)initializing" with Retry-After: 1, as Kubernetes' cacher, not sent to the store (each
// such watch would hold a store watcher and its buffer: thousands of node agents re-watching
// at once took a server to 19 GB); a consistent list still reads the store; once the cache is
// back, watches are served again.
func TestWatchCacheReinitializing(t *testing.T) {
	bs := &breakableStore{Store: memstore.New()}
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{Store: bs})
	hc, err := rest.HTTPClientFor(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	status := func(path string) (int, string, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if strings.Contains(path, "watch=true") && resp.StatusCode == http.StatusOK {
			return resp.StatusCode, "", "" // a stream: do not wait for its end
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
	}
	const watch = "/api/v1/namespaces/default/configmaps?watch=true"
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("a watch served", func() bool { c, _, _ := status(watch); return c == http.StatusOK })

	bs.setBroken(true)
	var code int
	var retry, body string
	waitFor("a 429 while the cache re-initialises", func() bool {
		code, retry, body = status(watch)
		return code == http.StatusTooManyRequests
	})
	if retry != "1" || !strings.Contains(body, `"message":"storage is (re)initializing"`) || !strings.Contains(body, `"reason":"TooManyRequests"`) {
		t.Errorf("watch while re-initialising: Retry-After %q, body %s", retry, body)
	}
	if code, retry, body := status("/api/v1/namespaces/default/configmaps?resourceVersion=0"); code != http.StatusTooManyRequests || retry != "1" {
		t.Errorf("resourceVersion=0 list while re-initialising: %d (Retry-After %q) %s", code, retry, body)
	}
	if code, _, body := status("/api/v1/namespaces/default/configmaps"); code != http.StatusOK {
		t.Errorf("consistent list while re-initialising: %d %s", code, body)
	}

	bs.setBroken(false)
	waitFor("a watch served again", func() bool { c, _, _ := status(watch); return c == http.StatusOK })
}
