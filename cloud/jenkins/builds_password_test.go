package jenkins_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drover-ci/drover/cloud/jenkins"
)

// Jenkins exports a password parameter with its name only: the build's parameters leave it out
// (a requeue then gets the job's default), and keep the others.
func TestBuildSkipsUnexportedParameterValues(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"_class":"hudson.model.FreeStyleBuild","number":3,"queueId":9,"building":false,"result":"FAILURE",
"builtOn":"a1","url":"http://j/job/p/3/","actions":[{"_class":"hudson.model.ParametersAction","parameters":[
{"_class":"hudson.model.StringParameterValue","name":"BRANCH","value":"main"},
{"_class":"hudson.model.PasswordParameterValue","name":"TOKEN"},
{"_class":"hudson.model.BooleanParameterValue","name":"FAST","value":true}]},{}]}`))
	}))
	defer srv.Close()
	c, err := jenkins.NewGojenkins(context.Background(), jenkins.Config{URL: srv.URL, User: "u", APIToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Build(context.Background(), "job/p/3/")
	if err != nil {
		t.Fatal(err)
	}
	want := []jenkins.Parameter{{Name: "BRANCH", Value: "main"}, {Name: "FAST", Value: "true"}}
	if diff := cmp.Diff(want, b.Parameters); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
}
