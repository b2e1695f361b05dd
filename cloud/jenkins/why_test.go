package jenkins

import (
	"strings"
	"testing"
)

func TestParseWhy(t *testing.T) {
	cases := []struct{ why, label, node string }{
		{"There are no nodes with the label ‘docker’", "docker", ""},
		{"There are no nodes with the label ‘docker && linux’", "docker && linux", ""},
		{"All nodes of label ‘docker’ are offline", "docker", ""},
		{"Waiting for next available executor on ‘docker’", "docker", ""},
		{"Waiting for next available executor on ‘(a || b) && !c’", "(a || b) && !c", ""},
		{"‘docker-abc12’ is offline", "", "docker-abc12"},
		{"Waiting for next available executor", "", ""},
		{"In the quiet period. Expires in 4.9 sec", "", ""},
		{"", "", ""},
	}
	for _, c := range cases {
		label, node := ParseWhy(c.why)
		if label != c.label || node != c.node {
			t.Errorf("ParseWhy(%q) = %q, %q; want %q, %q", c.why, label, node, c.label, c.node)
		}
	}
}

func TestCreateFormHasDesignFields(t *testing.T) {
	form, err := createForm(NodeSpec{Name: "n1", Labels: []string{"docker", "linux"}, WebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name=n1", "type=hudson.slaves.DumbSlave", "%22numExecutors%22%3A%221%22",
		"%22remoteFS%22%3A%22%2Fhome%2Fjenkins%2Fagent%22", "%22labelString%22%3A%22docker+linux%22",
		"%22mode%22%3A%22EXCLUSIVE%22", "%22webSocket%22%3Atrue", "RetentionStrategy%24Always",
		"%22stapler-class-bag%22%3A%22true%22", "%22internalDir%22%3A%22remoting%22"} {
		if !strings.Contains(form, want) {
			t.Errorf("form lacks %s:\n%s", want, form)
		}
	}
	if _, err := createForm(NodeSpec{}); err == nil {
		t.Error("empty name accepted")
	}
}
