package docker

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/container"
)

// BenchmarkPodCreateStart creates and starts what a pod is on Docker: an infra (pause)
// container on a bridge network and an app container in its network namespace. It reports
// the p50 and p99 of the create+start latency (removal is not timed).
func BenchmarkPodCreateStart(b *testing.B) {
	rt := engine(b)
	ctx := context.Background()
	if _, err := rt.EnsureNetwork(ctx, "drover-bench", "10.252.0.0/24"); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		ids := startPod(b, rt, fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i))
		lat = append(lat, time.Since(start))
		b.StopTimer()
		for _, id := range ids {
			if err := rt.Remove(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
}

func startPod(b *testing.B, rt *Runtime, name string) []string {
	ctx := context.Background()
	infra, err := rt.Create(ctx, container.Spec{Name: name + "-infra", Image: TestImages["pause"], NetworkMode: "drover-bench"})
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.Start(ctx, infra); err != nil {
		b.Fatal(err)
	}
	app, err := rt.Create(ctx, container.Spec{Name: name + "-app", Image: TestImages["exit"],
		Env: []string{"SLEEP=inf"}, NetworkMode: "container:" + infra})
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.Start(ctx, app); err != nil {
		b.Fatal(err)
	}
	return []string{app, infra}
}
