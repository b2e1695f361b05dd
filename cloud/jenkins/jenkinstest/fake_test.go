package jenkinstest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// call sends a token-authenticated request without following redirects.
func call(t *testing.T, s *Server, method, path, ctype, body string) (*http.Response, string) {
	t.Helper()
	resp, b, err := s.Do("u", "tok", method, path, ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func newFake(t *testing.T) *Server {
	s := New()
	t.Cleanup(s.Close)
	s.AddUser("u", "pw", "tok")
	return s
}

func createNode(t *testing.T, s *Server, name, labels string, ws bool) {
	t.Helper()
	js, _ := json.Marshal(map[string]any{"name": name, "numExecutors": "1", "remoteFS": "/home/jenkins/agent",
		"labelString": labels, "mode": "EXCLUSIVE", "type": "hudson.slaves.DumbSlave",
		"launcher": map[string]any{"stapler-class": "hudson.slaves.JNLPLauncher", "webSocket": ws}})
	form := url.Values{"name": {name}, "type": {"hudson.slaves.DumbSlave"}, "json": {string(js)}}.Encode()
	resp, _ := call(t, s, "POST", "/computer/doCreateItem", "application/x-www-form-urlencoded", form)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != s.URL()+"/computer/" {
		t.Fatalf("doCreateItem: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestJNLPBothPaths(t *testing.T) {
	s := newFake(t)
	createNode(t, s, "n1", "docker", true)
	for _, p := range []string{"/computer/n1/jenkins-agent.jnlp", "/computer/n1/slave-agent.jnlp"} {
		resp, body := call(t, s, "GET", p, "", "")
		want := "<argument>" + s.Secret("n1") + "</argument><argument>n1</argument>"
		if resp.StatusCode != 200 || !strings.Contains(body, want) || !strings.Contains(body, "<argument>-webSocket</argument>") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
}

func TestDeleteThen404(t *testing.T) {
	s := newFake(t)
	createNode(t, s, "n1", "", false)
	if resp, _ := call(t, s, "POST", "/computer/n1/doDelete", "", ""); resp.StatusCode != http.StatusFound {
		t.Errorf("doDelete: %d", resp.StatusCode)
	}
	if resp, _ := call(t, s, "GET", "/computer/n1/api/json", "", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET after delete: %d", resp.StatusCode)
	}
}

func TestTreeFilter(t *testing.T) {
	s := newFake(t)
	createNode(t, s, "n1", "docker", false)
	_, body := call(t, s, "GET", "/computer/n1/api/json?tree=offline,assignedLabels[name]", "", "")
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"_class": "hudson.slaves.SlaveComputer", "offline": true,
		"assignedLabels": []any{map[string]any{"name": "docker"}, map[string]any{"name": "n1"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
}

func TestBuildLifecycle(t *testing.T) {
	s := newFake(t)
	cfg := "<project><assignedNode>docker &amp;&amp; !windows</assignedNode></project>"
	if resp, _ := call(t, s, "POST", "/createItem?name=j", "application/xml", cfg); resp.StatusCode != 200 {
		t.Fatalf("createItem: %d", resp.StatusCode)
	}
	// A real Jenkins: a project never built has lastBuild null and nextBuildNumber 1.
	if _, body := call(t, s, "GET", "/job/j/api/json", "", ""); !strings.Contains(body, `"lastBuild":null`) ||
		!strings.Contains(body, `"nextBuildNumber":1`) || !strings.Contains(body, `"_class":"hudson.model.FreeStyleProject"`) {
		t.Errorf("job before its first build: %s", body)
	}
	r1, _ := call(t, s, "POST", "/job/j/build?delay=0sec", "", "")
	r2, _ := call(t, s, "POST", "/job/j/build?delay=0sec", "", "")
	loc := r1.Header.Get("Location")
	if r1.StatusCode != 201 || loc != s.URL()+"/queue/item/1/" || r2.Header.Get("Location") != loc {
		t.Errorf("build: %d %q, again %q (a non-concurrent job keeps one item)", r1.StatusCode, loc, r2.Header.Get("Location"))
	}
	createNode(t, s, "w", "docker windows", false)
	createNode(t, s, "l", "docker linux", false)
	if err := s.ConnectAgent("w"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartBuild(1); err == nil || !strings.Contains(err.Error(), "‘l’ is offline") {
		t.Errorf("StartBuild with only a non-matching agent online: %v", err)
	}
	_ = s.ConnectAgent("l")
	b, err := s.StartBuild(1)
	if err != nil || b.Node != "l" || b.Number != 1 {
		t.Fatalf("StartBuild = %+v, %v", b, err)
	}
	_, body := call(t, s, "GET", "/label/docker/api/json?tree=busyExecutors,idleExecutors,totalExecutors", "", "")
	if !strings.Contains(body, `"busyExecutors":1`) || !strings.Contains(body, `"idleExecutors":1`) || !strings.Contains(body, `"totalExecutors":2`) {
		t.Errorf("label: %s", body)
	}
	if err := s.FinishBuild("j", 1, "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	_, body = call(t, s, "GET", "/job/j/1/api/json?tree=building,result,builtOn", "", "")
	if !strings.Contains(body, `"result":"SUCCESS"`) || !strings.Contains(body, `"builtOn":"l"`) || !strings.Contains(body, `"building":false`) {
		t.Errorf("build info: %s", body)
	}
	if _, body := call(t, s, "GET", "/job/j/api/json", "", ""); !strings.Contains(body, `"lastBuild":{"_class":"hudson.model.FreeStyleBuild","number":1`) ||
		!strings.Contains(body, `"nextBuildNumber":2`) {
		t.Errorf("job after build #1: %s", body)
	}
	if resp, _ := call(t, s, "GET", "/job/nope/api/json", "", ""); resp.StatusCode != 404 {
		t.Errorf("missing job: %d, want 404", resp.StatusCode)
	}
}

func TestDisconnectFailsBuildAndAutoStart(t *testing.T) {
	s := newFake(t)
	s.AutoStart = true
	createNode(t, s, "a", "x", false)
	s.EnqueuePipeline("p", "x")
	_ = s.ConnectAgent("a")
	if n, _ := s.Node("a"); n.Connected != true {
		t.Fatal("not connected")
	}
	_, body := call(t, s, "GET", "/queue/api/json", "", "")
	if !strings.Contains(body, `"pending":true`) || strings.Contains(body, `"pending":false`) {
		t.Errorf("AutoStart left the item waiting (want it pending): %s", body)
	}
	_ = s.DisconnectAgent("a")
	_, body = call(t, s, "GET", "/job/p/1/api/json", "", "")
	if !strings.Contains(body, `"result":"FAILURE"`) {
		t.Errorf("build after disconnect: %s", body)
	}
}

func TestQuietPeriod(t *testing.T) {
	s := newFake(t)
	if resp, _ := call(t, s, "POST", "/createItem?name=j", "application/xml", "<project/>"); resp.StatusCode != 200 {
		t.Fatal("createItem")
	}
	call(t, s, "POST", "/job/j/build?delay=60sec", "", "")
	_, body := call(t, s, "GET", "/queue/api/json?tree=items[why,buildable]", "", "")
	if !strings.Contains(body, `"why":"In the quiet period. Expires in 59.`) && !strings.Contains(body, `"why":"In the quiet period. Expires in 60.`) ||
		!strings.Contains(body, `"buildable":false`) {
		t.Errorf("queue: %s", body)
	}
	createNode(t, s, "a", "", false)
	_ = s.ConnectAgent("a")
	if b := s.StartBuilds(); len(b) != 0 {
		t.Errorf("started in quiet period: %+v", b)
	}
}

func TestBuiltInNode(t *testing.T) {
	s := newFake(t)
	resp, body := call(t, s, "GET", "/computer/(built-in)/api/json?tree=displayName,numExecutors", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"displayName":"Built-In Node"`) || !strings.Contains(body, `"numExecutors":0`) {
		t.Errorf("built-in: %d %s", resp.StatusCode, body)
	}
	s.EnqueuePipeline("p", "built-in")
	_, body = call(t, s, "GET", "/queue/api/json?tree=items[why]", "", "")
	if !strings.Contains(body, `"why":"Waiting for next available executor"`) {
		t.Errorf("the built-in node counts as an agent: %s", body)
	}
}

// Jenkins writes config.xml with an XML 1.1 declaration and accepts it back.
func TestCreateItemXML11(t *testing.T) {
	s := newFake(t)
	cfg := "<?xml version='1.1' encoding='UTF-8'?>\n<project><assignedNode>docker</assignedNode></project>"
	if resp, _ := call(t, s, "POST", "/createItem?name=j", "application/xml", cfg); resp.StatusCode != 200 {
		t.Fatalf("createItem with an XML 1.1 declaration: %d", resp.StatusCode)
	}
	if resp, _ := call(t, s, "POST", "/createItem?name=k", "application/xml", "<project><oops></project>"); resp.StatusCode != 400 {
		t.Fatalf("createItem with broken XML: %d, want 400", resp.StatusCode)
	}
}
