package app

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cloud/provider"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the examples in docs/ from what the code prints")

// docsExampleStatus is the status that docs/jenkins.md shows as `drover jenkins status`'s output.
func docsExampleStatus(now time.Time) provider.Status {
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	backoff := now.Add(40 * time.Second)
	return provider.Status{
		UpdatedAt: ago(3 * time.Second), JenkinsURL: "http://jenkins.ci.svc.cluster.local:8080", Namespace: "ci", ContainerCap: 10,
		Listener: &provider.ListenerStatus{Enabled: true, Port: 50000, Protocols: []string{"JNLP4-connect", "Ping"}, JNLP4: true},
		Templates: []provider.TemplateStatus{
			{Name: "default", Label: "docker", Mode: "websocket", InstanceCap: 5, MinIdle: 1, Demand: 3, Pending: 1, Starting: 1, Idle: 1, Busy: 2},
			{Name: "broken", Label: "gpu", Mode: "inbound", BackoffUntil: &backoff, BackoffReason: "ErrImagePull"},
		},
		Agents: []provider.AgentStatus{
			{Name: "default-x1y2z", Template: "default", Pod: "default-x1y2z", State: "busy", Created: ago(2 * time.Minute)},
			{Name: "default-a1b2c", Template: "default", Pod: "default-a1b2c", State: "pending", Created: ago(5 * time.Second)},
		},
		Queue: []provider.QueueStatus{
			{ID: 42, Task: "build-app", Label: "docker", Why: "Waiting for next available executor on ‘docker’", Since: ago(10 * time.Second), Template: "default", Agent: "default-a1b2c"},
			{ID: 43, Task: "train", Label: "gpu", Why: "There are no nodes with the label ‘gpu’", Since: ago(90 * time.Second), Template: "broken", Waiting: "template broken backing off: ErrImagePull"},
		},
		Failures: []provider.Failure{
			{Time: ago(60 * time.Second), Template: "broken", Agent: "broken-q9w8e", Reason: "ErrImagePull", Message: "pull access denied for nvidia/missing"},
		},
	}
}

// TestStatusExampleInDocs: the `drover jenkins status` example in docs/jenkins.md is what the
// command prints (go test ./cmd/drover/app -run TestStatusExampleInDocs -update-docs rewrites it).
func TestStatusExampleInDocs(t *testing.T) {
	const doc = "../../../docs/jenkins.md"
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var out strings.Builder
	printJenkinsStatus(&out, docsExampleStatus(now), now)
	b, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	const heading = "## `drover jenkins status`"
	i := strings.Index(text, heading)
	if i < 0 {
		t.Fatalf("%s has no %q section", doc, heading)
	}
	start := strings.Index(text[i:], "\n```\n")
	if start < 0 {
		t.Fatalf("%s: no code block after %q", doc, heading)
	}
	start += i + len("\n```\n")
	end := strings.Index(text[start:], "```\n")
	if end < 0 {
		t.Fatalf("%s: unterminated code block after %q", doc, heading)
	}
	end += start
	if got := text[start:end]; got != out.String() {
		if *updateDocs {
			if err := os.WriteFile(doc, []byte(text[:start]+out.String()+text[end:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("the example in %s differs from what drover jenkins status prints (-update-docs rewrites it):\n%s\nprints:\n%s", doc, got, out.String())
	}
}
