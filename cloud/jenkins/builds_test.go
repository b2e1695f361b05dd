package jenkins

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJobOfBuild(t *testing.T) {
	for _, tc := range []struct {
		in     string
		job    string
		number int64
		ok     bool
	}{
		{"job/J/5/", "J", 5, true},
		{"/job/J/5/", "J", 5, true},
		{"http://ci:8080/job/folder/job/x/3/", "folder/x", 3, true},
		{"https://ci.example/jenkins/job/a%20b/12", "a b", 12, true},
		{"http://ci:8080/job/J/", "J", 0, true},
		{"http://ci:8080/computer/n/", "", 0, false},
	} {
		job, n, ok := JobOfBuild(tc.in)
		if job != tc.job || n != tc.number || ok != tc.ok {
			t.Errorf("JobOfBuild(%q) = %q %d %v, want %q %d %v", tc.in, job, n, ok, tc.job, tc.number, tc.ok)
		}
	}
}

func TestJobPaths(t *testing.T) {
	for in, want := range map[string]string{
		"J": "/job/J", "folder/x": "/job/folder/job/x", "/a b/": "/job/a%20b",
	} {
		if got := jobPath(in); got != want {
			t.Errorf("jobPath(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"http://other-root:9090/jenkins/job/J/5/": "/job/J/5/",
		"job/J/5":                "/job/J/5/",
		"/job/f/job/x/3/":        "/job/f/job/x/3/",
		"http://ci/job/a%20b/1/": "/job/a%20b/1/",
	} {
		if got := jobRelative(in); got != want {
			t.Errorf("jobRelative(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseListener(t *testing.T) {
	h := http.Header{}
	h.Set("X-Jenkins-JNLP-Port", "50000")
	h.Set("X-Jenkins-Agent-Protocols", "JNLP4-connect, Ping")
	h.Set("X-Instance-Identity", "MIIB")
	l, err := parseListener(h)
	if err != nil {
		t.Fatal(err)
	}
	want := AgentListener{Enabled: true, Port: 50000, Protocols: []string{"JNLP4-connect", "Ping"}, InstanceIdentity: "MIIB"}
	if diff := cmp.Diff(want, l); diff != "" || !l.OffersJNLP4() {
		t.Errorf("listener (-want +got):\n%s offersJNLP4=%v", diff, l.OffersJNLP4())
	}
	for _, l := range []AgentListener{
		{Enabled: true, Port: 50000, Protocols: []string{"Ping"}},
		{Enabled: true, Protocols: []string{"JNLP4-connect", "Ping"}},
		{Protocols: []string{"JNLP4-connect"}, InstanceIdentity: "MIIB"},
	} {
		if l.OffersJNLP4() {
			t.Errorf("%+v offers JNLP4", l)
		}
	}
	h.Set("X-Jenkins-JNLP-Port", "x")
	if _, err := parseListener(h); err == nil {
		t.Error("bad port: no error")
	}
}
