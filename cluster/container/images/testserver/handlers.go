package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type server struct {
	failing atomic.Bool
	tcpAddr string
	mu      sync.Mutex
	tcp     net.Listener
	burn    burner
}

func newServer() *server { return &server{} }

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) { s.failing.Store(true) })
	mux.HandleFunc("POST /ok", func(w http.ResponseWriter, r *http.Request) { s.failing.Store(false) })
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/env", env)
	mux.HandleFunc("/file", file)
	mux.HandleFunc("POST /write", write)
	mux.HandleFunc("POST /exit", exit)
	mux.HandleFunc("/get", get)
	mux.HandleFunc("/lookup", lookup)
	mux.HandleFunc("POST /burn", s.burn.serveBurn)
	mux.HandleFunc("POST /tcp-off", func(w http.ResponseWriter, r *http.Request) { s.tcpOff() })
	mux.HandleFunc("POST /tcp-on", func(w http.ResponseWriter, r *http.Request) {
		if err := s.tcpOn(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return logged(mux)
}

func logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s from %s", r.Method, r.URL.RequestURI(), r.RemoteAddr)
		h.ServeHTTP(w, r)
	})
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.failing.Load() {
		http.Error(w, "failing", http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "ok")
}

func echo(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%s %s %s\nhost: %s\nremote: %s\n", r.Method, r.URL.RequestURI(), r.Proto, r.Host, r.RemoteAddr)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
}

func env(w http.ResponseWriter, r *http.Request) {
	e := os.Environ()
	sort.Strings(e)
	for _, kv := range e {
		fmt.Fprintln(w, kv)
	}
}

func file(w http.ResponseWriter, r *http.Request) {
	b, err := os.ReadFile(r.URL.Query().Get("path"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Write(b)
}

func write(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("path")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := os.WriteFile(p, []byte(r.URL.Query().Get("data")), 0o644); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func exit(w http.ResponseWriter, r *http.Request) {
	code, _ := strconv.Atoi(r.URL.Query().Get("code"))
	log.Printf("exiting with %d", code)
	os.Exit(code)
}

func get(w http.ResponseWriter, r *http.Request) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(r.URL.Query().Get("url"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	fmt.Fprintf(w, "%d\n", resp.StatusCode)
	io.Copy(w, resp.Body)
}

func (s *server) tcpOn() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tcp != nil || s.tcpAddr == "" {
		return nil
	}
	l, err := net.Listen("tcp", s.tcpAddr)
	if err != nil {
		return err
	}
	s.tcp = l
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("ok\n"))
			c.Close()
		}
	}()
	return nil
}

func (s *server) tcpOff() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tcp != nil {
		s.tcp.Close()
		s.tcp = nil
	}
}
