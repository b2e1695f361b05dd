package apiserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"

	"github.com/drover-ci/drover/internal/proctest"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestIdleConnectionFlood is issue 16's first finding on a small scale: drover server runs with
// an open-file limit of 1024 and one client opens 3000 keep-alive connections, each after one
// unauthenticated GET /healthz, and holds them. Authenticated requests and /readyz must still be
// answered while they are held (before, the server ran out of file descriptors and stopped
// accepting: requests timed out and the log said nothing).
func TestIdleConnectionFlood(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		uptest.RequireE2E(t, "prlimit (util-linux) runs drover server with a small open-file limit")
	}
	bin, err := proctest.BuildDrover(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prlimit, "--nofile=1024:1024", bin, "server", "--data-dir", dir, "--store", "memory://",
		"--listen", "127.0.0.1:0")
	done, err := proctest.Start(cmd, logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proctest.WaitOrKill(cmd, done, 10*time.Second) })
	urlRE := regexp.MustCompile(`API server at (https://\S+)`)
	var url string
	uptest.Eventually(t, 60*time.Second, "drover server's URL in its log", func() bool {
		b, _ := os.ReadFile(logf.Name())
		if m := urlRE.FindSubmatch(b); m != nil {
			url = string(m[1])
		}
		return url != ""
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(t.Context(), "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("before the flood: %v", err)
	}

	conns := idleFlood(t, url[len("https://"):], 3000)
	t.Logf("flood: %d connections opened and answered", conns)

	// A new client (on a connection of its own: a Dial of its own keeps client-go from sharing
	// the cached transport) and the existing one are both answered.
	freshCfg := rest.CopyConfig(cfg)
	freshCfg.Dial = (&net.Dialer{}).DialContext
	fresh, err := kubernetes.NewForConfig(freshCfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		for _, c := range []kubernetes.Interface{cs, fresh} {
			if _, err := c.CoreV1().Namespaces().Get(t.Context(), "default", metav1.GetOptions{}); err != nil {
				t.Fatalf("authenticated GET %d during the flood: %v\nserver log:\n%s", i, err, proctest.TailLines(logf.Name(), 20))
			}
		}
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Get(url + "/readyz")
	if err != nil {
		t.Fatalf("/readyz during the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz during the flood: %d", resp.StatusCode)
	}
}

// idleFlood opens up to n TLS connections (HTTP/1.1) to addr, sends GET /healthz on each and
// reads the answer, and keeps them open until the test ends. It stops early once connections
// fail (the server no longer accepts); it returns how many got their answer.
func idleFlood(t testing.TB, addr string, n int) int {
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	var next, ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && failed.Load() < 50 {
				c, err := openIdle(addr)
				if err != nil {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}

func openIdle(addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 3 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: drover\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	resp.Body.Close()
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// BenchmarkGetIdleFlood20k: authenticated GET latency with no other client, then while 20,000
// idle keep-alive connections (each after one GET /healthz) are held by two helper processes
// (10,000 each: a process's open-file limit here is 20,000), in one run. The server keeps its
// default connection cap (half its open-file limit): it holds what it may and closes the
// connections idle longest to make room. Reports p50/p99 in ms of both phases.
func BenchmarkGetIdleFlood20k(b *testing.B) {
	srv := apiservertest.Start(b)
	c, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		b.Fatal(err)
	}
	get := func() []time.Duration {
		d := make([]time.Duration, 0, b.N)
		for range b.N {
			start := time.Now()
			if _, err := c.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
				b.Fatal(err)
			}
			d = append(d, time.Since(start))
		}
		return d
	}
	warmUp(b, c)
	b.ResetTimer()
	quiet := get()
	b.StopTimer()
	n := 0
	for range 2 {
		n += floodProcess(b, srv.URL[len("https://"):], 10000)
	}
	if n < 20000 {
		b.Fatalf("only %d of 20000 idle connections opened", n)
	}
	b.StartTimer()
	flooded := get()
	b.StopTimer()
	pct := func(d []time.Duration, p float64) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(quiet, 0.50), "p50-ms-quiet")
	b.ReportMetric(pct(quiet, 0.99), "p99-ms-quiet")
	b.ReportMetric(pct(flooded, 0.50), "p50-ms-20k-idle")
	b.ReportMetric(pct(flooded, 0.99), "p99-ms-20k-idle")
}

// floodProcess runs TestFloodHelper in a child process that opens n idle connections to addr
// and holds them until the benchmark ends; it returns how many got their answer.
func floodProcess(b *testing.B, addr string, n int) int {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFloodHelper$")
	cmd.Env = append(os.Environ(), "DROVER_FLOOD_ADDR="+addr, fmt.Sprintf("DROVER_FLOOD_N=%d", n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var held int
		if _, err := fmt.Sscanf(sc.Text(), "HELD %d", &held); err == nil {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return held
		}
	}
	b.Fatalf("flood helper ended without reporting: %v", sc.Err())
	return 0
}

// TestFloodHelper is BenchmarkGetIdleFlood20k's helper process: with DROVER_FLOOD_ADDR set it
// opens DROVER_FLOOD_N idle connections, prints "HELD n" and holds them until stdin closes.
// Without it (a normal test run) it does nothing.
func TestFloodHelper(t *testing.T) {
	addr := os.Getenv("DROVER_FLOOD_ADDR")
	if addr == "" {
		return
	}
	n, err := strconv.Atoi(os.Getenv("DROVER_FLOOD_N"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("HELD %d\n", idleFlood(t, addr, n))
	_, _ = io.Copy(io.Discard, os.Stdin)
}
