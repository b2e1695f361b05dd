package dns

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/apimachinery/pkg/runtime"
)

// BenchmarkLookup measures cluster name lookups the way a pod's resolver makes them: a fresh
// UDP socket per query, through the real server, among 1,000 services. It reports p50 and p99
// latency (target p99 ≤ 10 ms).
func BenchmarkLookup(b *testing.B) {
	var objs []runtime.Object
	for i := range 1000 {
		objs = append(objs, service(fmt.Sprintf("ns%d", i%10), fmt.Sprintf("svc%d", i), fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)))
	}
	s, _ := startServer(b, Config{}, objs...)
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("svc%d.ns%d.svc.cluster.local.", i%1000, i%10), dns.TypeA)
		start := time.Now()
		resp, _, err := c.Exchange(m, s.Addr())
		lat = append(lat, time.Since(start))
		if err != nil || len(resp.Answer) != 1 {
			b.Fatalf("query %d: %v %v", i, err, resp)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
