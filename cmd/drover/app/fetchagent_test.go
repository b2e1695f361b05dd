package app

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAgentJarURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://jenkins:8080":                 "http://jenkins:8080/jnlpJars/agent.jar",
		"http://jenkins:8080/":                "http://jenkins:8080/jnlpJars/agent.jar",
		"https://ci.example.com/jenkins/":     "https://ci.example.com/jenkins/jnlpJars/agent.jar",
		"http://10.0.0.1:8080/x/remoting.jar": "http://10.0.0.1:8080/x/remoting.jar",
	} {
		got, err := agentJarURL(in)
		if err != nil || got != want {
			t.Errorf("agentJarURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "jenkins:8080", "ftp://jenkins/", "http://"} {
		if got, err := agentJarURL(bad); err == nil {
			t.Errorf("agentJarURL(%q) = %q, want an error", bad, got)
		}
	}
}

// jenkinsStub answers /jnlpJars/agent.jar with 503 (a starting controller) the first
// `starting` times, then an HTML page once (a proxy's), then the jar.
type jenkinsStub struct {
	mu       sync.Mutex
	starting int
	html     bool
	requests []string
	jar      []byte
}

func (j *jenkinsStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.requests = append(j.requests, r.URL.Path)
	if r.URL.Path != "/jenkins/jnlpJars/agent.jar" {
		http.NotFound(w, r)
		return
	}
	switch {
	case j.starting > 0:
		j.starting--
		http.Error(w, "Please wait while Jenkins is getting ready to work", http.StatusServiceUnavailable)
	case j.html:
		j.html = false
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>starting</html>"))
	default:
		w.Header().Set("Content-Type", "application/java-archive")
		_, _ = w.Write(j.jar)
	}
}

func fastFetch(url, out string, timeout time.Duration) *fetchAgentOptions {
	return &fetchAgentOptions{url: url, out: out, timeout: timeout,
		firstDelay: 10 * time.Millisecond, maxDelay: 50 * time.Millisecond, attemptTimeout: 5 * time.Second}
}

// The controller answers 503 twice and an HTML page once before the jar: fetch-agent retries
// through all of them, writes exactly the jar, leaves no temporary file and logs each attempt.
func TestFetchAgentRetries(t *testing.T) {
	jar := append([]byte("PK\x03\x04"), bytes.Repeat([]byte("agent-classes "), 10000)...)
	stub := &jenkinsStub{starting: 2, html: true, jar: jar}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "drover-agent")
	out := filepath.Join(dir, "agent.jar")
	var log bytes.Buffer
	if err := fetchAgent(context.Background(), fastFetch(srv.URL+"/jenkins/", out, 30*time.Second), &log); err != nil {
		t.Fatalf("fetchAgent: %v\nlog:\n%s", err, log.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, jar) {
		t.Errorf("wrote %d bytes, want the %d-byte jar", len(got), len(jar))
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files in %s: %v, want agent.jar alone", dir, entries)
	}
	if len(stub.requests) != 4 {
		t.Errorf("requests %v, want 4 (503, 503, html, jar)", stub.requests)
	}
	text := log.String()
	for _, want := range []string{"attempt 1: GET " + srv.URL + "/jenkins/jnlpJars/agent.jar", "503 Service Unavailable; retrying in",
		"not a jar", "attempt 4: GET", "wrote " + strconv.Itoa(len(jar)) + " bytes to " + out} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
}

// An existing file is replaced whole, never truncated in place: a reader holding the old one
// still reads it completely.
func TestFetchAgentReplacesAtomically(t *testing.T) {
	jar := []byte("PK\x03\x04new")
	srv := httptest.NewServer(&jenkinsStub{jar: jar})
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "agent.jar")
	if err := os.WriteFile(out, []byte("PK\x03\x04old-old-old"), 0o600); err != nil {
		t.Fatal(err)
	}
	old, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := fetchAgent(context.Background(), fastFetch(srv.URL+"/jenkins", out, 10*time.Second), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); string(got) != string(jar) {
		t.Errorf("out = %q", got)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(old); err != nil || b.String() != "PK\x03\x04old-old-old" {
		t.Errorf("the old file seen through an open descriptor: %q %v", b.String(), err)
	}
}

// A controller that never comes up: the command fails after --timeout with a message naming
// the URL and the last answer, and writes nothing.
func TestFetchAgentTimeout(t *testing.T) {
	srv := httptest.NewServer(&jenkinsStub{starting: 1 << 30})
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "agent.jar")
	var stderr, stdout bytes.Buffer
	err := Run(context.Background(), []string{"fetch-agent", "--url", srv.URL + "/jenkins", "--out", out, "--timeout", "1500ms"},
		Streams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
	if err == nil {
		t.Fatalf("fetch-agent succeeded against a controller that answers 503; stderr:\n%s", stderr.String())
	}
	msg := err.Error()
	for _, want := range []string{"no agent.jar from " + srv.URL + "/jenkins/jnlpJars/agent.jar within 1.5s", "503 Service Unavailable"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if !strings.Contains(stderr.String(), "attempt 2: GET") {
		t.Errorf("stderr shows no retry:\n%s", stderr.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left: %v", entries)
	}
	// Nothing to fetch from, and missing flags: clear errors at once.
	for _, args := range [][]string{
		{"fetch-agent", "--url", srv.URL},
		{"fetch-agent", "--out", out},
		{"fetch-agent", "--url", srv.URL, "--out", out, "--timeout", "0s"},
	} {
		if err := Run(context.Background(), args, Streams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
