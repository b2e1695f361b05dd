package replication_test

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cmd/drover/app"
	"github.com/drover-ci/drover/internal/uptest"
)

// playKubelet marks every pod Running and Ready until ctx ends, standing in for a node agent.
func playKubelet(ctx context.Context, cs kubernetes.Interface) {
	for ctx.Err() == nil {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range list.Items {
				p := &list.Items[i]
				if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodRunning {
					continue
				}
				p.Status.Phase = corev1.PodRunning
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
					LastTransitionTime: metav1.Now()}}
				_, _ = cs.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{})
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// countPods follows the pods matching selector and records the most that existed at once.
func countPods(ctx context.Context, t *testing.T, cs kubernetes.Interface, selector string, most *atomic.Int32) {
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Error(err)
		return
	}
	defer w.Stop()
	live := map[string]bool{}
	for ev := range w.ResultChan() {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		if ev.Type == watch.Deleted || p.DeletionTimestamp != nil {
			delete(live, p.Name)
		} else {
			live[p.Name] = true
		}
		if n := int32(len(live)); n > most.Load() {
			most.Store(n)
		}
	}
}

func drover(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--kubeconfig", kubeconfig)
	if err := app.Run(t.Context(), args, app.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}); err != nil {
		t.Fatalf("drover %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String()
}

// TestIntegrationRollingUpdate runs `drover rolling-update` from the walkthrough against the
// real replication manager: never more than replicas+1 pods, the old controller ends at 0 pods
// and is deleted, the new one has its replicas ready.
func TestIntegrationRollingUpdate(t *testing.T) {
	srv, cs := startManager(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go playKubelet(ctx, cs)
	const walkthrough = "../../../examples/walkthrough"
	drover(t, srv.Kubeconfig, "create", "-f", walkthrough+"/jenkins-slaves.yml")
	drover(t, srv.Kubeconfig, "scale", "rc/jenkins-slave", "--replicas=2")
	uptest.Eventually(t, 20*time.Second, "2 ready old pods", func() bool {
		rc := rcStatus(t, cs, "jenkins-slave")
		return rc.Status.ReadyReplicas == 2 && rc.Status.Replicas == 2
	})
	var most atomic.Int32
	go countPods(ctx, t, cs, "name in (jenkins-slave,jenkins-slave-v2)", &most)
	time.Sleep(100 * time.Millisecond) // let the watch start

	out := drover(t, srv.Kubeconfig, "rolling-update", "jenkins-slave", "-f", walkthrough+"/v2/jenkins-slaves-v2.yml",
		"--update-period=50ms", "--poll-interval=20ms", "--timeout=30s")
	if !strings.Contains(out, "Update succeeded. Deleting jenkins-slave\n") {
		t.Errorf("rolling-update output:\n%s", out)
	}
	if _, err := cs.CoreV1().ReplicationControllers("default").Get(t.Context(), "jenkins-slave", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("old controller after the update: %v, want NotFound", err)
	}
	if n := len(activePods(t, cs, "name=jenkins-slave")); n != 0 {
		t.Errorf("%d old pods left", n)
	}
	rc := rcStatus(t, cs, "jenkins-slave-v2")
	if rc.Status.ReadyReplicas != 2 || len(activePods(t, cs, "name=jenkins-slave-v2")) != 2 {
		t.Errorf("new controller: status %+v", rc.Status)
	}
	if m := most.Load(); m > 3 || m < 2 {
		t.Errorf("at most %d pods existed at once, want 2 or 3 (replicas+1)", m)
	}
}
