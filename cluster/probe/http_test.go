package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "fine") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad", 500) })
	mux.HandleFunc("/notfound", http.NotFound)
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/to-ok", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/to-fail", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/fail", http.StatusFound) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, strings.Repeat("x", 3*maxOutput)) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		path    string
		want    Result
		message string // substring
	}{
		{"/ok", Success, "fine"},
		{"/fail", Failure, "HTTP probe failed with statuscode: 500"},
		{"/notfound", Failure, "statuscode: 404"},
		{"/slow", Failure, "Client.Timeout exceeded"},
		{"/to-ok", Success, "fine"},
		{"/to-fail", Failure, "statuscode: 500"},
		{"/loop", Failure, "stopped after 10 redirects"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			start := time.Now()
			res, msg, err := HTTP(context.Background(), srv.URL+tc.path, nil, 300*time.Millisecond)
			if err != nil || res != tc.want || !strings.Contains(msg, tc.message) {
				t.Errorf("HTTP(%s) = %v, %q, %v; want %v with %q", tc.path, res, msg, err, tc.want, tc.message)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("HTTP(%s) took %v with a 300ms timeout", tc.path, d)
			}
		})
	}
	t.Run("body limit", func(t *testing.T) {
		res, msg, err := HTTP(context.Background(), srv.URL+"/big", nil, time.Second)
		if res != Success || err != nil || len(msg) != maxOutput {
			t.Errorf("HTTP(/big) = %v, %d bytes, %v; want success with %d bytes", res, len(msg), err, maxOutput)
		}
	})
}

func TestHTTPRedirectToOtherHostNotFollowed(t *testing.T) {
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		http.Error(w, "should not be asked", 500)
	}))
	defer other.Close()
	_, port, _ := net.SplitHostPort(other.Listener.Addr().String())
	target := "http://localhost:" + port + "/elsewhere" // another host name than 127.0.0.1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusMovedPermanently)
	}))
	defer srv.Close()
	res, msg, err := HTTP(context.Background(), srv.URL+"/", nil, time.Second)
	if res != Success || err != nil || !strings.HasPrefix(msg, "Probe terminated redirects") {
		t.Errorf("HTTP = %v, %q, %v; want success, terminated redirects", res, msg, err)
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the other host was asked %d times", n)
	}
}

func TestHTTPHeaders(t *testing.T) {
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r }))
	defer srv.Close()

	if res, _, err := HTTP(context.Background(), srv.URL, http.Header{"X-Custom": {"v"}}, time.Second); res != Success || err != nil {
		t.Fatalf("HTTP = %v, %v", res, err)
	}
	r := <-got
	if r.UserAgent() != "kube-probe/1.32" || r.Header.Get("Accept") != "*/*" || r.Header.Get("X-Custom") != "v" {
		t.Errorf("headers = %v", r.Header)
	}
	h := http.Header{"User-Agent": {"mine"}, "Accept": {"text/plain"}, "Host": {"example.test"}}
	if res, _, err := HTTP(context.Background(), srv.URL, h, time.Second); res != Success || err != nil {
		t.Fatalf("HTTP = %v, %v", res, err)
	}
	r = <-got
	if r.UserAgent() != "mine" || r.Header.Get("Accept") != "text/plain" || r.Host != "example.test" {
		t.Errorf("overridden headers: UA %q Accept %q Host %q", r.UserAgent(), r.Header.Get("Accept"), r.Host)
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	addr := closedAddr(t)
	res, msg, err := HTTP(context.Background(), "http://"+addr+"/", nil, time.Second)
	if res != Failure || err != nil || !strings.Contains(msg, "connection refused") {
		t.Errorf("HTTP(closed port) = %v, %q, %v; want failure, connection refused", res, msg, err)
	}
}

func TestHTTPMalformedURL(t *testing.T) {
	res, _, err := HTTP(context.Background(), "http://[::1", nil, time.Second)
	if res != Unknown || err == nil {
		t.Errorf("HTTP(bad URL) = %v, %v; want Unknown and an error", res, err)
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
