package consulstore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/drover-ci/drover/cluster/store/consulstore"
	"github.com/drover-ci/drover/cluster/store/consulstore/consultest"
)

// TestConnectionsCapped: 250 requests at once, each a blocking query that holds its connection
// for seconds, all succeed: the client opens at most Config.MaxConns (default 64) connections
// and queues the rest, below Consul's limit of 200 per client address (beyond it Consul
// refuses connections, which drover's API answered with 503s).
func TestConnectionsCapped(t *testing.T) {
	a := consultest.Start(t)
	c, err := consulstore.Config{Address: a.Addr, Timeout: time.Minute}.Client()
	if err != nil {
		t.Fatal(err)
	}
	_, meta, err := c.KV().Get("conns-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 250
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 2 * time.Second}
			if _, _, err := c.KV().Get(fmt.Sprintf("conns-test/%d", i), q); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed == 0 {
			t.Errorf("a request among %d at once failed: %v", n, err)
		}
		failed++
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed", failed, n)
	}
}
