package uptest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Two drovers on one Docker engine, with different data dirs and — the worst case — the same
// node name: each runs its pods, and a restart of one (whose node agent then adopts this
// node's containers and removes those no pod of its own owns) leaves the other's containers
// running. Before containers carried their cluster's id, the restarted agent removed them.
func TestTwoDroversOnOneEngine(t *testing.T) {
	node := fmt.Sprintf("twin-%d", os.Getpid())
	a := Start(t, Options{Name: "twin-a", Node: node, Subnet: "10.191.0.0/16", ServiceCIDR: "10.192.0.0/16",
		ClusterDNS: "10.192.0.10", NodePortRange: "30000-30049", Images: []string{"drover/testserver:1"}})
	b := Start(t, Options{Name: "twin-b", Node: node, Subnet: "10.193.0.0/16", ServiceCIDR: "10.194.0.0/16",
		ClusterDNS: "10.194.0.10", NodePortRange: "30050-30099", Images: []string{"drover/testserver:1"}})
	// Both stop before either's cleanup removes the shared node name's containers: a running
	// drover would start its pods again meanwhile.
	t.Cleanup(func() { b.Stop(); a.Stop() })
	runPods(t, a.Client, "a")
	runPods(t, b.Client, "b")
	before := containers(t, a)
	if len(before) < 4 { // two pods: two infra and two app containers
		t.Fatalf("drover a runs %d containers, want at least 4: %v", len(before), before)
	}
	b.Stop()
	b.Restart()
	// b's agent has run its adoption pass once its pod is Running again.
	runPods(t, b.Client, "b")
	if got := containers(t, a); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Errorf("drover a's containers changed while drover b restarted:\nbefore %v\nafter  %v", before, got)
	}
	pods, err := a.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "twin=a"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.RestartCount != 0 || cs.State.Running == nil {
				t.Errorf("drover a's pod %s: container %s restarts %d, state %+v", p.Name, cs.Name, cs.RestartCount, cs.State)
			}
		}
	}
}

// runPods makes sure two pods labelled twin=name run in the default namespace and are Running.
func runPods(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []string{name + "-1", name + "-2"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p, Labels: map[string]string{"twin": name}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "drover/testserver:1",
				ImagePullPolicy: corev1.PullNever}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
	}
	Eventually(t, 90*time.Second, "pods twin="+name+" Running", func() bool {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "twin=" + name})
		if err != nil || len(pods.Items) != 2 {
			return false
		}
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning {
				return false
			}
		}
		return true
	})
}

// containers lists the ids of the containers e's pods run, from Docker (by the pods' uids).
func containers(t *testing.T, e *Env) []string {
	t.Helper()
	pods, err := e.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range pods.Items {
		out, err := exec.Command("docker", "ps", "-q", "--no-trunc", "--filter", "label=drover.io/pod-uid="+string(p.UID)).Output()
		if err != nil {
			t.Fatalf("docker ps (DOCKER_HOST=%s): %v", os.Getenv("DOCKER_HOST"), err)
		}
		ids = append(ids, strings.Fields(string(out))...)
	}
	sort.Strings(ids)
	return ids
}
