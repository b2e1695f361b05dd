package replication_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/internal/uptest"
)

// TestReplicaSetWithKubectlOnDocker is the ReplicaSet story on `drover up` with a real Docker
// engine and the real kubectl: a ReplicaSet of 3 runs 3 pods, `kubectl scale` to 1 leaves one,
// and `kubectl delete rs` takes the pods with it (garbage collection through ownerReferences).
func TestReplicaSetWithKubectlOnDocker(t *testing.T) {
	env := uptest.Start(t, uptest.Options{Name: "rs", Subnet: "10.171.0.0/16", ServiceCIDR: "10.172.0.0/16",
		ClusterDNS: "10.172.0.10", NodePortRange: "32950-32999", Images: []string{"drover/testserver:1"}, NeedKubectl: true})
	cs := env.Client
	kubectl := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := kubectl(`apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "drover/testserver:1"}]
`, "create", "-f", "-"); !strings.Contains(out, "replicaset.apps/web created") {
		t.Fatalf("create: %s", out)
	}
	running := func(n int) func() bool {
		return func() bool {
			list, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				t.Fatal(err)
			}
			r, all := 0, 0
			for _, p := range list.Items {
				all++
				if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
					r++
				}
			}
			return r == n && all == n
		}
	}
	uptest.Eventually(t, 2*time.Minute, "3 Running pods", running(3))
	out := kubectl("", "get", "rs", "web")
	if !strings.Contains(out, "DESIRED") || !strings.Contains(strings.Join(strings.Fields(out), " "), "web 3 3 3") {
		t.Errorf("get rs web (want 3 desired, current, ready):\n%s", out)
	}

	kubectl("", "scale", "rs/web", "--replicas=1")
	uptest.Eventually(t, 2*time.Minute, "1 pod left", running(1))

	kubectl("", "delete", "rs", "web")
	uptest.Eventually(t, 2*time.Minute, "the pods collected with the ReplicaSet", func() bool {
		list, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Items) == 0
	})
	if out := kubectl("", "get", "rs,pods", "-l", "app=web"); !strings.Contains(out, "No resources found") {
		t.Errorf("after delete: %s", fmt.Sprint(out))
	}

	// Hollow nodes (the scale benchmark's) run ReplicaSet pods as the Docker node does.
	hollow := env.StartHollowNodes(t, "rs-h", 3)
	kubectl(`apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: wide}
spec:
  replicas: 6
  selector: {matchLabels: {app: wide}}
  template:
    metadata: {labels: {app: wide}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [`+strings.Join(hollow.Nodes, ", ")+`]}]
      containers: [{name: web, image: "drover/testserver:1"}]
`, "create", "-f", "-")
	uptest.Eventually(t, 2*time.Minute, "6 pods Running on the hollow nodes, all ready", func() bool {
		rs, err := cs.AppsV1().ReplicaSets("default").Get(t.Context(), "wide", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		list, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=wide"})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning && strings.HasPrefix(p.Spec.NodeName, "rs-h-") {
				running++
			}
		}
		return len(list.Items) == 6 && running == 6 && rs.Status.ReadyReplicas == 6
	})
}
