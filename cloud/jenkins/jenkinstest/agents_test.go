package jenkinstest

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest/agentproto"
)

func TestAgentListenerHeaders(t *testing.T) {
	s := newFake(t)
	resp, body := call(t, s, "GET", "/tcpSlaveAgentListener/", "", "")
	h := resp.Header
	if resp.StatusCode != 200 || h.Get("X-Jenkins") != Version ||
		h.Get(agentproto.HeaderPort) != strconv.Itoa(s.AgentPort()) || h.Get(agentproto.HeaderProtocols) != "JNLP4-connect, Ping" ||
		h.Get(agentproto.HeaderIdentity) == "" || !strings.Contains(body, "Jenkins") {
		t.Errorf("%d %v %q", resp.StatusCode, h, body)
	}
	if resp, _ := call(t, s, "GET", "/login", "", ""); resp.StatusCode != 200 {
		t.Errorf("/login: %d", resp.StatusCode)
	}
}

func TestAgentJarIsAZipWithTheMarker(t *testing.T) {
	s := newFake(t)
	for _, p := range []string{"/jnlpJars/agent.jar", "/jnlpJars/remoting.jar"} {
		resp, err := http.Get(s.URL() + p) // anonymous
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if resp.StatusCode != 200 || err != nil || len(z.File) != 1 || z.File[0].Name != "META-INF/MANIFEST.MF" ||
			!bytes.Contains(b, []byte(agentproto.JarMarker)) || !bytes.Equal(b, AgentJar()) {
			t.Errorf("%s: %d, zip %v", p, resp.StatusCode, err)
		}
	}
	if resp, _ := call(t, s, "GET", "/jnlpJars/nothing.jar", "", ""); resp.StatusCode != 404 {
		t.Errorf("unknown jar: %d", resp.StatusCode)
	}
}

// The raw protocol: hello with a wrong secret gets an error line; with the
// right one a welcome, the node goes online, a second connection is refused.
func TestTCPAgentProtocol(t *testing.T) {
	s := newFake(t)
	createNode(t, s, "n1", "", false)
	dial := func(secret string) (net.Conn, agentproto.Message) {
		c, err := net.Dial("tcp", s.AgentListenAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = json.NewEncoder(c).Encode(agentproto.Message{Type: agentproto.TypeHello, Name: "n1", Secret: secret})
		line, err := bufio.NewReader(c).ReadBytes('\n')
		var m agentproto.Message
		if err != nil || json.Unmarshal(line, &m) != nil {
			t.Fatalf("answer %q: %v", line, err)
		}
		return c, m
	}
	if _, m := dial("bad"); m.Type != agentproto.TypeError || m.Message != "Authorization failure" {
		t.Errorf("wrong secret: %+v", m)
	}
	c, m := dial(s.Secret("n1"))
	if m.Type != agentproto.TypeWelcome {
		t.Fatalf("right secret: %+v", m)
	}
	if n, _ := s.Node("n1"); !n.Connected {
		t.Error("n1 not online")
	}
	if _, m := dial(s.Secret("n1")); m.Type != agentproto.TypeError || !strings.Contains(m.Message, "already connected") {
		t.Errorf("second connection: %+v", m)
	}
	// Deleting the node disconnects its agent.
	call(t, s, "POST", "/computer/n1/doDelete", "", "")
	if _, err := io.ReadAll(c); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Errorf("read after delete: %v", err)
	}
}

func TestWebSocketWrongSecret403(t *testing.T) {
	s := newFake(t)
	createNode(t, s, "n1", "", true)
	req, _ := http.NewRequest("GET", s.URL()+"/wsagents/", nil)
	req.Header.Set(agentproto.HeaderNodeName, "n1")
	req.Header.Set(agentproto.HeaderSecret, "nope")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "Authorization failure") {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
}

func TestSwarmCreateSlave(t *testing.T) {
	s := newFake(t)
	resp, body := call(t, s, "POST", "/plugin/swarm/createSlave?name=sw&executors=2&remoteFsRoot=/w&labels=a+b&mode=normal&description=d&hash=abcd1234", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "\nname=sw-abcd1234\n") {
		t.Fatalf("createSlave: %d %q", resp.StatusCode, body)
	}
	n, ok := s.Node("sw-abcd1234")
	if !ok || n.Executors != 2 || n.RemoteFS != "/w" || strings.Join(n.Labels, ",") != "a,b" || n.Mode != "NORMAL" || n.Connected {
		t.Errorf("node %+v", n)
	}
	anon, _ := http.Post(s.URL()+"/plugin/swarm/createSlave?name=x", "", nil)
	anon.Body.Close()
	if anon.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous createSlave: %d", anon.StatusCode)
	}
}

// Location headers and jnlp URLs follow the request's Host (no root URL set).
func TestRootURLFromRequestHost(t *testing.T) {
	s, err := NewAt("0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.AddUser("u", "pw", "tok")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.URL(), "http://"))
	req, _ := http.NewRequest("GET", "http://localhost:"+port+"/computer/x/jenkins-agent.jnlp", nil)
	createNode(t, s, "x", "", false)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "<argument>http://localhost:"+port+"/</argument>") {
		t.Errorf("jnlp: %s", b)
	}
}

// Without the instance-identity plugin the listener offers Ping only, with
// no identity, and the agent port refuses JNLP4-connect; with the agent
// port disabled the listener answers 404.
func TestAgentListenerWithoutIdentity(t *testing.T) {
	s, err := Start(Options{NoInstanceIdentity: true, Users: []User{{"u", "pw", "tok"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	resp, _ := call(t, s, "GET", "/tcpSlaveAgentListener/", "", "")
	h := resp.Header
	if resp.StatusCode != 200 || h.Get(agentproto.HeaderProtocols) != "Ping" || len(h.Values(agentproto.HeaderIdentity)) != 0 ||
		h.Get(agentproto.HeaderPort) != strconv.Itoa(s.AgentPort()) {
		t.Errorf("%d %v", resp.StatusCode, h)
	}
	createNode(t, s, "n1", "", false)
	c, err := net.Dial("tcp", s.AgentListenAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = json.NewEncoder(c).Encode(agentproto.Message{Type: agentproto.TypeHello, Name: "n1", Secret: s.Secret("n1")})
	var m agentproto.Message
	line, _ := bufio.NewReader(c).ReadBytes('\n')
	if json.Unmarshal(line, &m); m.Type != agentproto.TypeError || !strings.Contains(m.Message, "JNLP4-connect") {
		t.Errorf("hello with the right secret: %+v, want an error", m)
	}
	if n, _ := s.Node("n1"); n.Connected {
		t.Error("n1 connected over TCP")
	}

	off, err := Start(Options{DisableAgentPort: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(off.Close)
	if resp, err := http.Get(off.URL() + "/tcpSlaveAgentListener/"); err != nil || resp.StatusCode != 404 {
		t.Errorf("disabled agent port: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
