package jenkins_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/cloud/jenkins"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

const paramConfig = `<project><properties><hudson.model.ParametersDefinitionProperty><parameterDefinitions>
<hudson.model.StringParameterDefinition><name>BRANCH</name><defaultValue>main</defaultValue></hudson.model.StringParameterDefinition>
<hudson.model.BooleanParameterDefinition><name>FAST</name><defaultValue>false</defaultValue></hudson.model.BooleanParameterDefinition>
</parameterDefinitions></hudson.model.ParametersDefinitionProperty></properties><assignedNode>docker</assignedNode></project>`

func TestTriggerAndReadBuilds(t *testing.T) {
	srv, c := fixture(t)
	freestyle(t, srv, "plain", "docker")
	if resp := post(t, srv, "/createItem?name=param", "application/xml", paramConfig); resp.StatusCode != 200 {
		t.Fatalf("createItem: %d", resp.StatusCode)
	}
	loc1, err := c.TriggerBuild(ctx(t), "plain", nil)
	if err != nil || loc1 != srv.URL()+"/queue/item/1/" {
		t.Fatalf("TriggerBuild plain: %q %v", loc1, err)
	}
	params := []jenkins.Parameter{{Name: "BRANCH", Value: "fix & test"}, {Name: "FAST", Value: "true"}}
	loc2, err := c.TriggerBuild(ctx(t), "param", params)
	if err != nil || loc2 != srv.URL()+"/queue/item/2/" {
		t.Fatalf("TriggerBuild param: %q %v", loc2, err)
	}
	reqs := srv.Requests()
	if count(reqs, "POST /job/plain/build") != 1 || count(reqs, "POST /job/param/buildWithParameters") != 1 {
		t.Errorf("requests %q", reqs)
	}
	mustCreate(t, c, "a1", "docker")
	connect(t, srv, "a1")
	b1, err := srv.StartBuild(1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Build(ctx(t), b1.URL)
	want := jenkins.Build{URL: b1.URL, Job: "plain", Number: 1, Building: true, BuiltOn: "a1", QueueID: 1}
	if diff := cmp.Diff(want, got); err != nil || diff != "" {
		t.Errorf("running build (-want +got):\n%s%v", diff, err)
	}
	if err := srv.FinishBuild("plain", 1, "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	b2, err := srv.StartBuild(2)
	if err != nil {
		t.Fatal(err)
	}
	// A path works as well as the URL; the answer's url is Jenkins' own.
	got, err = c.Build(ctx(t), "job/param/1/")
	want = jenkins.Build{URL: b2.URL, Job: "param", Number: 1, Building: true, BuiltOn: "a1", Parameters: params, QueueID: 2}
	if diff := cmp.Diff(want, got); err != nil || diff != "" {
		t.Errorf("parameterized build (-want +got):\n%s%v", diff, err)
	}
	// Its agent disconnects mid-build: FAILURE, and Jenkins does not retry.
	if err := srv.DisconnectAgent("a1"); err != nil {
		t.Fatal(err)
	}
	got, err = c.Build(ctx(t), b2.URL)
	if err != nil || got.Building || got.Result != "FAILURE" || got.BuiltOn != "a1" {
		t.Errorf("after the agent disconnected: %+v %v", got, err)
	}
	if items, _ := c.Queue(ctx(t)); len(items) != 0 {
		for _, it := range items {
			if !it.Pending {
				t.Errorf("Jenkins requeued the build: %+v", items)
			}
		}
	}
	got, err = c.Build(ctx(t), srv.URL()+"/job/plain/1/")
	if err != nil || got.Result != "SUCCESS" || got.Parameters != nil {
		t.Errorf("plain #1: %+v %v", got, err)
	}
	// Requeue with the build's own parameters, as drover's requeue does.
	loc3, err := c.TriggerBuild(ctx(t), got.Job, nil)
	if err != nil || loc3 == "" {
		t.Errorf("re-trigger plain: %q %v", loc3, err)
	}
	if _, err := c.Build(ctx(t), "job/plain/99/"); !errors.Is(err, jenkins.ErrBuildNotFound) {
		t.Errorf("missing build: %v, want ErrBuildNotFound", err)
	}
}

func TestTriggerBuildErrors(t *testing.T) {
	srv, c := fixture(t)
	freestyle(t, srv, "plain", "")
	var he *jenkins.HTTPError
	if _, err := c.TriggerBuild(ctx(t), "missing", nil); !errors.As(err, &he) || he.Status != 404 {
		t.Errorf("missing job: %v", err)
	}
	_, err := c.TriggerBuild(ctx(t), "plain", []jenkins.Parameter{{Name: "X", Value: "1"}})
	if !errors.As(err, &he) || he.Status != 500 || !strings.Contains(err.Error(), `trigger build "plain"`) {
		t.Errorf("parameters for a plain job: %v", err)
	}
	if _, err := c.TriggerBuild(ctx(t), "", nil); err == nil {
		t.Error("empty job accepted")
	}
}

// With a password (no API token) both POSTs carry a crumb.
func TestTriggerBuildWithCrumb(t *testing.T) {
	srv := jenkinstest.New()
	defer srv.Close()
	srv.AddUser(user, password, token)
	freestyle(t, srv, "plain", "")
	if resp := post(t, srv, "/createItem?name=param", "application/xml", paramConfig); resp.StatusCode != 200 {
		t.Fatal("createItem")
	}
	c, err := jenkins.NewGojenkins(ctx(t), jenkins.Config{URL: srv.URL(), User: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.TriggerBuild(ctx(t), "plain", nil); err != nil {
		t.Errorf("build with a crumb: %v", err)
	}
	if _, err := c.TriggerBuild(ctx(t), "param", []jenkins.Parameter{{Name: "BRANCH", Value: "b"}}); err != nil {
		t.Errorf("buildWithParameters with a crumb: %v", err)
	}
	if n := count(srv.Requests(), "GET /crumbIssuer/api/json"); n != 2 {
		t.Errorf("%d crumb fetches for 2 POSTs", n)
	}
}
