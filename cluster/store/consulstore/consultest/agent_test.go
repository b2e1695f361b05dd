package consultest

import (
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestStartServesKV(t *testing.T) {
	a := Start(t)
	kv := a.Client(t).KV()
	if _, err := kv.Put(&api.KVPair{Key: "consultest/k", Value: []byte("v")}, nil); err != nil {
		t.Fatalf("put: %v", err)
	}
	p, _, err := kv.Get("consultest/k", nil)
	if err != nil || p == nil || string(p.Value) != "v" {
		t.Fatalf("get = %+v, %v; want value v", p, err)
	}
}

func TestKillEndsAgent(t *testing.T) {
	a := Start(t)
	a.Kill()
	if !a.Exited() {
		t.Fatal("agent still running after Kill")
	}
	c := a.Config()
	c.HttpClient = nil
	c.WaitTime = time.Second
	client, err := api.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Status().Leader(); err == nil {
		t.Fatal("status/leader answered after Kill")
	}
	a.Stop() // idempotent after Kill
}

func TestFreePortsDistinct(t *testing.T) {
	p, err := freePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, x := range p {
		if x <= 0 || seen[x] {
			t.Fatalf("ports %v: want 6 distinct positive ports", p)
		}
		seen[x] = true
	}
}
