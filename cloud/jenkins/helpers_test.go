package jenkins_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

const (
	user     = "admin"
	password = "s3cret-password"
	token    = "11aa22bb33cc44dd55ee66ff77889900aa"
)

// fixture starts a fake Jenkins with one user and an adapter using its token.
func fixture(t *testing.T) (*jenkinstest.Server, *jenkins.Gojenkins) {
	t.Helper()
	srv := jenkinstest.New()
	t.Cleanup(srv.Close)
	srv.AddUser(user, password, token)
	c, err := jenkins.NewGojenkins(ctx(t), jenkins.Config{URL: srv.URL(), User: user, APIToken: token,
		ConnectTimeout: time.Second, ReadTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("NewGojenkins: %v", err)
	}
	return srv, c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// post sends a raw token-authenticated POST and returns the response.
func post(t *testing.T, srv *jenkinstest.Server, path, ctype, body string) *http.Response {
	t.Helper()
	resp, _, err := srv.Do(user, token, http.MethodPost, path, ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// freestyle creates job name tied to label and returns after checking 200.
func freestyle(t *testing.T, srv *jenkinstest.Server, name, label string) {
	t.Helper()
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(label))
	cfg := "<project><assignedNode>" + esc.String() + "</assignedNode><canRoam>false</canRoam></project>"
	if label == "" {
		cfg = "<project><canRoam>true</canRoam><concurrentBuild>true</concurrentBuild></project>"
	}
	if resp := post(t, srv, "/createItem?name="+name, "application/xml", cfg); resp.StatusCode != 200 {
		t.Fatalf("createItem %s: %d", name, resp.StatusCode)
	}
}

// trigger builds job name and returns the Location header (201 checked).
func trigger(t *testing.T, srv *jenkinstest.Server, name string) string {
	t.Helper()
	resp := post(t, srv, "/job/"+name+"/build?delay=0sec", "", "")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("build %s: %d", name, resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

func mustCreate(t *testing.T, c jenkins.Client, name string, labels ...string) {
	t.Helper()
	if err := c.CreateInboundNode(ctx(t), jenkins.NodeSpec{Name: name, Labels: labels}); err != nil {
		t.Fatalf("CreateInboundNode %s: %v", name, err)
	}
}

func count(reqs []string, want string) int {
	n := 0
	for _, r := range reqs {
		if r == want {
			n++
		}
	}
	return n
}
