package hatest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// consulWrite is one write drover made to Consul's KV store, as the proxy saw it.
type consulWrite struct {
	Verb  string // cas, delete-cas, delete, set ... (txn verbs), or the HTTP method for /v1/kv
	Key   string // without the store's prefix
	Index uint64 // the check-and-set index (0: create)
	Value []byte
}

// countingProxy is a reverse proxy in front of Consul's HTTP API that records every KV write
// (PUT/POST/DELETE on /v1/kv/... and the KV operations of /v1/txn transactions).
type countingProxy struct {
	prefix string
	ln     net.Listener

	mu     sync.Mutex
	writes []consulWrite
}

func startCountingProxy(t testing.TB, consulAddr, prefix string) *countingProxy {
	t.Helper()
	target, _ := url.Parse("http://" + consulAddr)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1                    // blocking queries: pass answers on at once
	rp.ErrorLog = log.New(io.Discard, "", 0) // canceled blocking queries at shutdown
	p := &countingProxy{prefix: prefix + "/"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.record(r)
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

func (p *countingProxy) Addr() string { return p.ln.Addr().String() }

func (p *countingProxy) record(r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return
	}
	switch {
	case r.URL.Path == "/v1/txn":
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var ops []struct {
			KV *struct {
				Verb  string
				Key   string
				Value []byte
				Index uint64
			}
		}
		if err := json.Unmarshal(body, &ops); err != nil {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, op := range ops {
			if op.KV == nil || op.KV.Verb == "check-index" || op.KV.Verb == "get" {
				continue // reads inside the transaction
			}
			p.writes = append(p.writes, consulWrite{Verb: op.KV.Verb, Key: strings.TrimPrefix(op.KV.Key, p.prefix),
				Index: op.KV.Index, Value: op.KV.Value})
		}
	case strings.HasPrefix(r.URL.Path, "/v1/kv/"):
		p.mu.Lock()
		defer p.mu.Unlock()
		p.writes = append(p.writes, consulWrite{Verb: r.Method, Key: strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v1/kv/"), p.prefix)})
	}
}

// take returns the writes recorded since the last take and forgets them.
func (p *countingProxy) take() []consulWrite {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.writes
	p.writes = nil
	return w
}

// resourceOf returns "GROUP/RESOURCE" of a store key ("core/pods/default/x" → "core/pods").
func resourceOf(key string) string {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) < 2 {
		return key
	}
	return parts[0] + "/" + parts[1]
}
