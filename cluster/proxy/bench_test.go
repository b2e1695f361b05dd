package proxy

import (
	"errors"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

const benchBytes = 8 << 20

// sender is a TCP server on 127.0.0.1 that writes benchBytes to each connection and closes it.
func sender(b *testing.B) int32 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	chunk := make([]byte, 64<<10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for sent := 0; sent < benchBytes; sent += len(chunk) {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
		}
	}()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// download reads a whole transfer from addr and returns how long it took.
func download(addr string) (time.Duration, error) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		return 0, err
	}
	if n != benchBytes {
		return 0, errors.New("short transfer")
	}
	return time.Since(start), nil
}

// BenchmarkThroughput moves 8 MiB per iteration directly from a backend and 8 MiB through the
// proxy from the same backend, alternating, and reports both rates and proxy/direct.
// Bound it with -benchtime, e.g. -benchtime 20x.
func BenchmarkThroughput(b *testing.B) {
	port := sender(b)
	startProxy(b, Config{}, service("bulk", "127.96.0.30", httpPort), endpoints("bulk", port))
	direct, proxied := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), "127.96.0.30:8080"
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := download(proxied); err == nil {
			break
		} else if time.Now().After(deadline) {
			b.Fatalf("proxy not serving: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.SetBytes(2 * benchBytes)
	b.ResetTimer()
	var dt, pt time.Duration
	for range b.N {
		d, err := download(direct)
		if err != nil {
			b.Fatal(err)
		}
		p, err := download(proxied)
		if err != nil {
			b.Fatal(err)
		}
		dt, pt = dt+d, pt+p
	}
	mbps := func(d time.Duration) float64 { return float64(b.N) * benchBytes / (1 << 20) / d.Seconds() }
	b.ReportMetric(mbps(dt), "direct-MB/s")
	b.ReportMetric(mbps(pt), "proxy-MB/s")
	b.ReportMetric(mbps(pt)/mbps(dt), "proxy/direct")
}
