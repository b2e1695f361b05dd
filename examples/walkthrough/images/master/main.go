// Command master stands in for the article's csanchez/jenkins-swarm image in tests and demos:
// an HTTP server on 8080 (the Jenkins UI port) that agents register with, a TCP listener on
// 50000 (the agent port) whose connections it keeps open, and JENKINS_HOME at
// /var/jenkins_home where it keeps a counter of its starts and what clients write, so a test
// can see the volume survive a new pod.
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
	"strings"
	"sync"
)

var home = envOr("JENKINS_HOME", "/var/jenkins_home")

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	starts := bumpStarts()
	log.Printf("jenkins stand-in starting (start #%d), JENKINS_HOME=%s", starts, home)
	var mu sync.Mutex
	agents := map[string]string{}
	go serveAgentPort(envOr("AGENT_PORT", "50000"))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Jenkins stand-in (drover walkthrough), start #%d\n", starts)
	})
	http.HandleFunc("/register", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		mu.Lock()
		agents[name] = r.RemoteAddr
		mu.Unlock()
		log.Printf("agent %s registered from %s", name, r.RemoteAddr)
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/agents", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		names := make([]string, 0, len(agents))
		for n := range agents {
			names = append(names, n)
		}
		mu.Unlock()
		sort.Strings(names)
		fmt.Fprintln(w, strings.Join(names, "\n"))
	})
	http.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if q := r.URL.Query().Get("data"); q != "" {
			data = []byte(q)
		}
		if err := os.WriteFile(filepath.Join(home, "marker"), data, 0o644); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "written")
	})
	http.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join(home, "marker"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	log.Fatal(http.ListenAndServe(":"+envOr("HTTP_PORT", "8080"), nil))
}

// bumpStarts counts this start in JENKINS_HOME/starts.
func bumpStarts() int {
	if err := os.MkdirAll(home, 0o755); err != nil {
		log.Printf("JENKINS_HOME: %v", err)
	}
	path := filepath.Join(home, "starts")
	b, _ := os.ReadFile(path)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	n++
	_ = os.WriteFile(path, []byte(strconv.Itoa(n)), 0o644)
	return n
}

// serveAgentPort accepts agent tunnels and holds them open until the agent closes them.
func serveAgentPort(port string) {
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		log.Fatalf("agent port: %v", err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer c.Close()
			io.Copy(io.Discard, c)
		}()
	}
}
