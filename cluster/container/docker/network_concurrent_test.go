package docker

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// TestEnsureNetworkConcurrently: node agents starting together on an engine without the
// network all get it, none fails because another created it first (seen as "network with
// name ... already exists" from an agent in the nodeagent tests on a new engine).
func TestEnsureNetworkConcurrently(t *testing.T) {
	rt := engine(t)
	for round := range 3 {
		name := fmt.Sprintf("dt-concurrent-%d-%d", os.Getpid(), round)
		t.Cleanup(func() { _ = rt.Client().NetworkRemove(context.Background(), name) })
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				gw, err := rt.EnsureNetwork(context.Background(), name, fmt.Sprintf("10.251.%d.0/24", 210+round))
				if err == nil && gw != fmt.Sprintf("10.251.%d.1", 210+round) {
					err = fmt.Errorf("gateway %s", gw)
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, agent %d: %v", round, i, err)
			}
		}
	}
}
