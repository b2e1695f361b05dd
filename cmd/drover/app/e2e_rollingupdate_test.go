package app

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// playReplicationManager marks every RC's replicas as created and ready until ctx ends,
// standing in for the replication controller that a later issue brings.
func playReplicationManager(ctx context.Context, cs kubernetes.Interface) {
	for ctx.Err() == nil {
		list, err := cs.CoreV1().ReplicationControllers("default").List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, rc := range list.Items {
				want := replicasOf(&rc)
				if rc.Status.Replicas == want && rc.Status.ReadyReplicas == want && rc.Status.ObservedGeneration == rc.Generation {
					continue
				}
				rc.Status.Replicas, rc.Status.ReadyReplicas, rc.Status.ObservedGeneration = want, want, rc.Generation
				_, _ = cs.CoreV1().ReplicationControllers("default").UpdateStatus(ctx, &rc, metav1.UpdateOptions{})
			}
		}
		_ = sleep(ctx, 10*time.Millisecond)
	}
}

func TestE2ERollingUpdateWalkthrough(t *testing.T) {
	srv := apiservertest.Start(t)
	c := &cli{t: t, kubeconfig: srv.Kubeconfig}
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go playReplicationManager(ctx, cs)

	c.must("create", "-f", walkthrough+"/jenkins-slaves.yml")
	c.must("scale", "rc/jenkins-slave", "--replicas=2")
	out := c.must("rolling-update", "jenkins-slave", "-f", walkthrough+"/v2/jenkins-slaves-v2.yml",
		"--update-period=20ms", "--poll-interval=10ms", "--timeout=20s")
	for _, want := range []string{
		"Created jenkins-slave-v2\n",
		"Scaling up jenkins-slave-v2 from 0 to 2, scaling down jenkins-slave from 2 to 0 (keep 2 pods available, don't exceed 3 pods)\n",
		"Scaling jenkins-slave-v2 up to 1\nScaling jenkins-slave down to 1\nScaling jenkins-slave-v2 up to 2\nScaling jenkins-slave down to 0\n",
		"Update succeeded. Deleting jenkins-slave\n",
		"replicationcontroller/jenkins-slave-v2 rolling updated to \"jenkins-slave-v2\"\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rolling-update output lacks %q:\n%s", want, out)
		}
	}
	if out := c.must("get", "rc", "-o", "name"); out != "replicationcontroller/jenkins-slave-v2\n" {
		t.Errorf("controllers after the update: %q", out)
	}

	out = c.must("rolling-update", "jenkins-slave-v2", "--image=csanchez/jenkins-swarm-slave:3.0",
		"--update-period=20ms", "--poll-interval=10ms", "--timeout=20s")
	if !strings.HasSuffix(out, "replicationcontroller/jenkins-slave-v2 rolling updated\n") || !strings.Contains(out, "Renaming jenkins-slave-v2-") {
		t.Errorf("image update output:\n%s", out)
	}
	rc, err := cs.CoreV1().ReplicationControllers("default").Get(t.Context(), "jenkins-slave-v2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := rc.Spec.Template.Spec.Containers[0].Image; img != "csanchez/jenkins-swarm-slave:3.0" || rc.Spec.Selector["deployment"] == "" || replicasOf(rc) != 2 {
		t.Errorf("after the image update: image %s selector %v replicas %d", img, rc.Spec.Selector, replicasOf(rc))
	}

	_, _, err = c.run("", "rolling-update", "jenkins-slave-v2", "-f", walkthrough+"/v2/jenkins-slaves-v2.yml")
	if err == nil || !strings.Contains(err.Error(), "cannot have the same name as the existing ReplicationController") {
		t.Errorf("update to a controller of the same name: %v", err)
	}
	same := "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: v3}\nspec:\n  replicas: 1\n" +
		"  template:\n    metadata: {labels: {name: jenkins-slave-v2}}\n    spec: {containers: [{name: a, image: b}]}\n"
	_, _, err = c.run(same, "rolling-update", "jenkins-slave-v2", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "must specify a matching key with non-equal value in Selector") {
		t.Errorf("update to a controller with the same selector: %v", err)
	}
}
