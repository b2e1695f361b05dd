package nodeagent

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A preStop sleep hook runs before the stop signal, within the grace period (5 s here): a
// 3 s sleep delays the deletion by 3 s; a 5 s one, when the deletion shortens the grace period
// to 1 s, is cut there (the stop signal then gets the kubelet's minimum of 2 s).
func TestHollowPreStopSleep(t *testing.T) {
	h := startHollow(t)
	for name, secs := range map[string]int64{"short": 3, "long": 5} {
		c := hollowContainer("app")
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: secs}}}
		h.create(hollowPod(name, c))
	}
	for _, name := range []string{"short", "long"} {
		h.waitPod(name, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	}
	for name, want := range map[string][2]time.Duration{"short": {3 * time.Second, 5 * time.Second}, "long": {time.Second, 4 * time.Second}} {
		deleted := h.fc.Now()
		opts := metav1.DeleteOptions{}
		if name == "long" {
			one := int64(1)
			opts.GracePeriodSeconds = &one
		}
		if err := h.client.CoreV1().Pods("default").Delete(context.Background(), name, opts); err != nil {
			t.Fatal(err)
		}
		h.poll(30*time.Second, name+" gone", func() (bool, string) {
			_, err := h.get(name)
			return apierrors.IsNotFound(err), "still there"
		})
		if took := h.fc.Since(deleted); took < want[0] || took > want[1] {
			t.Errorf("%s: pod gone after %s (fake), want between %s and %s", name, took, want[0], want[1])
		}
	}
}
