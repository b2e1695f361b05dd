package apiserver_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// TestKubectlPriorityClassesAndEventsV1: scheduling.k8s.io/v1 priorityclasses and
// events.k8s.io/v1 events through real kubectl: the system classes and the columns kubectl
// prints (PREEMPTIONPOLICY without -o wide, as kube-apiserver's table), `kubectl create
// priorityclass`, the Priority admission's answers, the events.k8s.io table and field
// selectors, server-side apply of both kinds, and both groups in discovery.
func TestKubectlPriorityClassesAndEventsV1(t *testing.T) {
	t.Parallel()
	srv := apiservertest.Start(t)
	kubectl := kubectlFor(t, srv)
	must := mustKubectl(t, kubectl)
	matches := func(what, out string, res ...*regexp.Regexp) {
		t.Helper()
		for _, re := range res {
			if !re.MatchString(out) {
				t.Errorf("%s: no match for %s in:\n%s", what, re, out)
			}
		}
	}
	contains := func(what, out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", what, w, out)
			}
		}
	}

	matches("get priorityclasses", must("get", "priorityclasses"),
		tableHeader("NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"),
		regexp.MustCompile(`(?m)^system-cluster-critical\s+2000000000\s+false\s+\S+\s+PreemptLowerPriority\s*$`),
		regexp.MustCompile(`(?m)^system-node-critical\s+2000001000\s+false\s+\S+\s+PreemptLowerPriority\s*$`))
	contains("create priorityclass", must("create", "priorityclass", "high", "--value=1000", "--description=builds first", "--preemption-policy=Never"),
		"priorityclass.scheduling.k8s.io/high created")
	must("create", "priorityclass", "everyone", "--value=10", "--global-default")
	out, err := kubectl("create", "priorityclass", "second", "--value=11", "--global-default")
	if err == nil {
		t.Error("a second global default was created")
	}
	contains("second global default", out, `priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass everyone is already marked as default. Only one default can exist`)
	out, err = kubectl("delete", "priorityclass", "system-node-critical")
	if err == nil {
		t.Error("system-node-critical was deleted")
	}
	contains("delete a system class", out, `Error from server (Forbidden): priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: this is a system priority class and cannot be deleted`)
	matches("get pc", must("get", "pc", "-o", "wide"),
		regexp.MustCompile(`(?m)^everyone\s+10\s+true\s+\S+\s+PreemptLowerPriority\s*$`),
		regexp.MustCompile(`(?m)^high\s+1000\s+false\s+\S+\s+Never\s*$`))

	out, err = kubectl("create", "-f", "testdata/prioevents.yaml")
	if err == nil {
		t.Error("a pod of an unknown class was created")
	}
	contains("create -f", out, "event.events.k8s.io/web-1.sched created",
		`pods "unknown-class" is forbidden: no PriorityClass with name nope was found`)
	row := regexp.MustCompile(`(?m)^\S+\s+Normal\s+Scheduled\s+pod/web-1\s+Successfully assigned default/web-1 to node-1\s*$`)
	matches("get events.v1.events.k8s.io", must("get", "events.v1.events.k8s.io"),
		tableHeader("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"), row)
	matches("get events -o wide", must("get", "events.events.k8s.io", "-o", "wide", "--field-selector", "regarding.name=web-1,reportingController=default-scheduler"),
		tableHeader("LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"),
		regexp.MustCompile(`(?m)^\S+\s+Normal\s+Scheduled\s+pod/web-1\s+default-scheduler, default-scheduler-host\s+Successfully assigned default/web-1 to node-1\s+\S+\s+1\s+web-1\.sched\s*$`))
	out, err = kubectl("get", "events.events.k8s.io", "--field-selector", "source=kubelet")
	if err == nil {
		t.Error("events.k8s.io took a field selector on source")
	}
	contains("selector on source", out, "field label not supported: source")
	matches("get events (core)", must("get", "events"), row)

	// Server-side apply of both kinds, twice (the second changes nothing).
	for i := 0; i < 2; i++ {
		contains("apply --server-side", must("apply", "--server-side", "-f", "testdata/prioapply.yaml"),
			"priorityclass.scheduling.k8s.io/applied serverside-applied", "event.events.k8s.io/web-1.applied serverside-applied")
	}
	contains("applied class", must("get", "pc", "applied", "-o", "jsonpath={.value} {.preemptionPolicy} {.metadata.managedFields[0].manager}"),
		"500 PreemptLowerPriority kubectl")
	contains("applied event through core", must("get", "events", "web-1.applied", "-o", "jsonpath={.message} {.reportingComponent}"),
		"applied server-side example.com/applier")

	matches("api-resources", must("api-resources", "--api-group=scheduling.k8s.io"),
		regexp.MustCompile(`(?m)^priorityclasses\s+pc\s+scheduling\.k8s\.io/v1\s+false\s+PriorityClass\s*$`))
	matches("api-resources", must("api-resources", "--api-group=events.k8s.io"),
		regexp.MustCompile(`(?m)^events\s+ev\s+events\.k8s\.io/v1\s+true\s+Event\s*$`))
	contains("explain", must("explain", "priorityclass.value"), "value represents the integer value of this priority class")
}
