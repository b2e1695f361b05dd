package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// lookup resolves ?name= ?n= times (default 100) with the pod's resolver and answers the
// addresses and the latency percentiles in ms: "addrs=... p50=0.41 p99=1.20".
func lookup(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	if n <= 0 || n > 10000 {
		n = 100
	}
	var d []time.Duration
	var addrs []string
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		start := time.Now()
		a, err := net.DefaultResolver.LookupHost(ctx, name)
		cancel()
		if err != nil {
			http.Error(w, fmt.Sprintf("lookup %s: %v", name, err), http.StatusBadGateway)
			return
		}
		d = append(d, time.Since(start))
		addrs = a
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	ms := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	fmt.Fprintf(w, "addrs=%v p50=%.3f p99=%.3f\n", addrs, ms(0.50), ms(0.99))
}
