package jenkins_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

func TestTokenAuthSendsNoCrumb(t *testing.T) {
	srv, c := fixture(t)
	mustCreate(t, c, "n1", "docker")
	if n := count(srv.Requests(), "GET /crumbIssuer/api/json"); n != 0 {
		t.Errorf("token auth fetched %d crumbs", n)
	}
}

func TestPasswordAndAnonymousUseCrumb(t *testing.T) {
	srv := jenkinstest.New()
	defer srv.Close()
	srv.AddUser(user, password, token)
	for _, cfg := range []jenkins.Config{
		{URL: srv.URL(), User: user, Password: password},
		{URL: srv.URL() + "/"},
	} {
		c, err := jenkins.NewGojenkins(ctx(t), cfg)
		if err != nil {
			t.Fatalf("NewGojenkins: %v", err)
		}
		before := count(srv.Requests(), "GET /crumbIssuer/api/json")
		name := "n-" + cfg.User
		mustCreate(t, c, name)
		if err := c.DeleteNode(ctx(t), name); err != nil {
			t.Fatalf("DeleteNode with crumb (user %q): %v", cfg.User, err)
		}
		if got := count(srv.Requests(), "GET /crumbIssuer/api/json") - before; got != 2 {
			t.Errorf("user %q: %d crumb fetches for 2 POSTs", cfg.User, got)
		}
	}
}

func TestPostWithoutCrumbIsRefused(t *testing.T) {
	srv := jenkinstest.New()
	defer srv.Close()
	srv.AddUser(user, password, token)
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/computer/doCreateItem", strings.NewReader("name=x"))
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "No valid crumb was included in the request") {
		t.Errorf("POST without crumb: %d %q", resp.StatusCode, body)
	}
}

func TestBadCredentialsFailToConnect(t *testing.T) {
	srv := jenkinstest.New()
	defer srv.Close()
	srv.AddUser(user, password, token)
	_, err := jenkins.NewGojenkins(ctx(t), jenkins.Config{URL: srv.URL(), User: user, APIToken: "wrong"})
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad token: err = %v (want an error not showing the token)", err)
	}
}
