package tainteviction_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/cluster/controller/tainteviction"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestIntegrationNoExecuteTaintEvicts runs the controller against the real API server: a
// NoExecute taint put on a node deletes (gracefully: the node agent would finish) the pod that
// does not tolerate it, with the DisruptionTarget condition, and the pod tolerating it for a
// second once that second has passed; the pod tolerating it for ever stays.
func TestIntegrationNoExecuteTaintEvicts(t *testing.T) {
	_, cs := controllertest.Run(t, tainteviction.New)
	ctx := t.Context()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, tols ...corev1.Toleration) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: "n1", Tolerations: tols,
			AutomountServiceAccountToken: ptr.To(false), Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mk("plain")
	mk("second", corev1.Toleration{Key: "maintenance", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](1)})
	mk("forever", corev1.Toleration{Key: "maintenance", Operator: corev1.TolerationOpExists})
	n, err := cs.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Taints = []corev1.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoExecute}}
	if _, err := cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	evicted := func(name string) bool {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return true
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.DisruptionTarget && c.Reason == tainteviction.ReasonDeletionByTaintManager {
				return p.DeletionTimestamp != nil
			}
		}
		return false
	}
	uptest.Eventually(t, 10*time.Second, "plain evicted", func() bool { return evicted("plain") })
	uptest.Eventually(t, 10*time.Second, "second evicted after its toleration", func() bool { return evicted("second") })
	if evicted("forever") {
		t.Error("the pod tolerating the taint for ever was evicted")
	}
}
