package jenkinstest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const paramJob = `<?xml version='1.1' encoding='UTF-8'?>
<project>
  <properties>
    <hudson.model.ParametersDefinitionProperty>
      <parameterDefinitions>
        <hudson.model.StringParameterDefinition>
          <name>BRANCH</name>
          <defaultValue>main</defaultValue>
        </hudson.model.StringParameterDefinition>
        <hudson.model.BooleanParameterDefinition>
          <name>FAST</name>
          <defaultValue>false</defaultValue>
        </hudson.model.BooleanParameterDefinition>
        <hudson.model.ChoiceParameterDefinition>
          <name>OS</name>
          <choices class="java.util.Arrays$ArrayList"><a class="string-array"><string>linux</string><string>windows</string></a></choices>
        </hudson.model.ChoiceParameterDefinition>
        <hudson.model.ChoiceParameterDefinition>
          <name>JDK</name>
          <choices><string>17</string><string>21</string></choices>
        </hudson.model.ChoiceParameterDefinition>
      </parameterDefinitions>
    </hudson.model.ParametersDefinitionProperty>
  </properties>
  <assignedNode>docker</assignedNode>
  <builders><hudson.tasks.Shell><command>echo $BRANCH</command></hudson.tasks.Shell></builders>
</project>`

type buildView struct {
	Number  int    `json:"number"`
	Result  any    `json:"result"`
	BuiltOn string `json:"builtOn"`
	Actions []struct {
		Parameters []struct {
			Name  string `json:"name"`
			Value any    `json:"value"`
		} `json:"parameters"`
	} `json:"actions"`
}

func TestBuildWithParameters(t *testing.T) {
	s := newFake(t)
	if resp, body := call(t, s, "POST", "/createItem?name=p", "application/xml", paramJob); resp.StatusCode != 200 {
		t.Fatalf("createItem: %d %s", resp.StatusCode, body)
	}
	call(t, s, "POST", "/createItem?name=plain", "application/xml", "<project/>")
	// /build of a parameterized job and buildWithParameters of a plain one fail as on Jenkins.
	if resp, body := call(t, s, "POST", "/job/p/build?delay=0sec", "", ""); resp.StatusCode != 400 || !strings.Contains(body, "Nothing is submitted") {
		t.Errorf("build of a parameterized job: %d %s", resp.StatusCode, body)
	}
	if resp, body := call(t, s, "POST", "/job/plain/buildWithParameters", "", ""); resp.StatusCode != 500 || !strings.Contains(body, "not parameterized") {
		t.Errorf("buildWithParameters of a plain job: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, s, "POST", "/job/none/buildWithParameters", "", ""); resp.StatusCode != 404 {
		t.Errorf("buildWithParameters of a missing job: %d", resp.StatusCode)
	}
	form := url.Values{"BRANCH": {"feature/x"}, "FAST": {"true"}, "UNDEFINED": {"dropped"}}.Encode()
	r1, _ := call(t, s, "POST", "/job/p/buildWithParameters", "application/x-www-form-urlencoded", form)
	r2, _ := call(t, s, "POST", "/job/p/buildWithParameters?OS=windows", "", "")
	r3, _ := call(t, s, "POST", "/job/p/buildWithParameters", "application/x-www-form-urlencoded", form)
	if r1.StatusCode != http.StatusCreated || r1.Header.Get("Location") != s.URL()+"/queue/item/1/" ||
		r2.Header.Get("Location") != s.URL()+"/queue/item/2/" || r3.Header.Get("Location") != r1.Header.Get("Location") {
		t.Errorf("locations %q %q %q (same parameters fold into one item, others do not)",
			r1.Header.Get("Location"), r2.Header.Get("Location"), r3.Header.Get("Location"))
	}
	createNode(t, s, "a", "docker", false)
	_ = s.ConnectAgent("a")
	started := s.StartBuild
	b1, err := started(1)
	if err != nil {
		t.Fatal(err)
	}
	want := []Parameter{{"BRANCH", "feature/x"}, {"FAST", "true"}, {"OS", "linux"}, {"JDK", "17"}}
	if diff := cmp.Diff(want, b1.Params); diff != "" {
		t.Errorf("build 1 parameters (-want +got):\n%s", diff)
	}
	_ = s.FinishBuild("p", 1, "SUCCESS")
	b2, err := started(2)
	if err != nil || b2.Number != 2 {
		t.Fatalf("build 2: %+v %v", b2, err)
	}
	_, body := call(t, s, "GET", "/job/p/2/api/json?tree=number,result,builtOn,actions[parameters[name,value]]", "", "")
	var v buildView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, a := range v.Actions {
		for _, p := range a.Parameters {
			got[p.Name] = p.Value
		}
	}
	if diff := cmp.Diff(map[string]any{"BRANCH": "main", "FAST": false, "OS": "windows", "JDK": "17"}, got); diff != "" ||
		v.BuiltOn != "a" || v.Result != nil || v.Number != 2 {
		t.Errorf("build 2: %s (params -want +got:\n%s)", body, diff)
	}
	st := s.Snapshot()
	if len(st.Jobs) != 2 || len(st.Jobs[0].Params) != 4 || len(st.Jobs[0].Builds) != 2 || len(st.Jobs[0].Builds[1].Params) != 4 {
		t.Errorf("state %+v", st.Jobs)
	}
}
