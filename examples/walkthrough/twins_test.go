package walkthrough_test

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/drover-ci/drover/internal/uptest"
)

// Two drovers with different data dirs on one Docker engine — and, the worst case, the same
// node name — run the walkthrough side by side, and a restart of one (whose node agent then
// adopts this node's containers and removes those no pod of its own owns) costs the other no
// container. Before containers carried their cluster's id, the restarted agent removed them.
func TestWalkthroughSideBySide(t *testing.T) {
	uptest.CheckDocker(t)
	if out, err := exec.Command("bash", "images/build.sh").CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in images: %v\n%s", err, out)
	}
	if _, err := os.Stat("/home/docker/jenkins"); os.IsNotExist(err) {
		t.Cleanup(func() { _ = os.RemoveAll("/home/docker/jenkins") })
	}
	node := fmt.Sprintf("walktwin-%d", os.Getpid())
	a := uptest.Start(t, uptest.Options{Name: "walktwin-a", Node: node, Subnet: "10.195.0.0/16", ServiceCIDR: "10.196.0.0/16",
		ClusterDNS: "10.196.0.10", NodePortRange: "30100-30149", NeedKubectl: true})
	b := uptest.Start(t, uptest.Options{Name: "walktwin-b", Node: node, Subnet: "10.197.0.0/16", ServiceCIDR: "10.198.0.0/16",
		ClusterDNS: "10.198.0.10", NodePortRange: "30150-30199", NeedKubectl: true})
	// Both stop before either's cleanup removes the shared node name's containers: a running
	// drover would start its pods again (and mount their volumes) meanwhile.
	t.Cleanup(func() { b.Stop(); a.Stop() })
	ka, kb := &kubectl{t: t, kubeconfig: a.Kubeconfig}, &kubectl{t: t, kubeconfig: b.Kubeconfig}
	for _, k := range []*kubectl{ka, kb} {
		k.must("apply", "-f", ".")
		waitRunning(t, k, "name=jenkins", 1)
		waitRunning(t, k, "name=jenkins-slave", 1)
	}
	before := containerIDs(t, ka)
	if len(before) < 4 { // two pods: two infra and two app containers
		t.Fatalf("drover a runs %d containers, want at least 4: %v", len(before), before)
	}
	b.Stop()
	b.Restart()
	waitRunning(t, kb, "name=jenkins", 1)
	waitRunning(t, kb, "name=jenkins-slave", 1)
	if after := containerIDs(t, ka); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("drover a's containers changed while drover b restarted:\nbefore %v\nafter  %v", before, after)
	}
	if out := ka.must("get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.containerStatuses[0].restartCount}{\"\\n\"}{end}"); strings.Contains(out, " 1") || strings.Contains(out, " 2") {
		t.Errorf("drover a's pods restarted:\n%s", out)
	}
}

// containerIDs lists the Docker containers of the pods k's drover runs (by their uids).
func containerIDs(t *testing.T, k *kubectl) []string {
	t.Helper()
	uids := strings.Fields(k.must("get", "pods", "-o", "jsonpath={.items[*].metadata.uid}"))
	var ids []string
	for _, uid := range uids {
		out, err := exec.Command("docker", "ps", "-q", "--no-trunc", "--filter", "label=drover.io/pod-uid="+uid).Output()
		if err != nil {
			t.Fatalf("docker ps: %v", err)
		}
		ids = append(ids, strings.Fields(string(out))...)
	}
	sort.Strings(ids)
	return ids
}
