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

// A three-server cluster elects a leader, elects another after the leader is killed and keeps
// serving KV writes through a follower; the killed server rejoins after Restart.
func TestClusterSurvivesLeaderLoss(t *testing.T) {
	c := StartCluster(t, 3)
	leader, err := c.Leader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	followers := c.Followers(leader)
	if len(followers) != 2 {
		t.Fatalf("followers = %d, want 2", len(followers))
	}
	kv := followers[0].Client(t).KV()
	if _, err := kv.Put(&api.KVPair{Key: "consultest/a", Value: []byte("1")}, nil); err != nil {
		t.Fatalf("put before the kill: %v", err)
	}
	leader.Kill()
	next, err := c.WaitLeader(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatal("the killed agent is still the leader")
	}
	if _, err := kv.Put(&api.KVPair{Key: "consultest/b", Value: []byte("2")}, nil); err != nil {
		t.Fatalf("put after the new election: %v", err)
	}
	if err := leader.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitLeader(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	p, _, err := leader.Client(t).KV().Get("consultest/b", &api.QueryOptions{RequireConsistent: true})
	if err != nil || p == nil || string(p.Value) != "2" {
		t.Fatalf("restarted agent reads consultest/b = %+v, %v; want 2", p, err)
	}
}
