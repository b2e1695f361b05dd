package nodeagent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Deleting a pod stops its containers with SIGTERM, kills those that ignore it when the grace
// period ends, removes them, and then the pod object is gone.
func TestE2EGracefulDeletion(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	stubborn := testPod("stubborn", exitContainer("deaf", map[string]string{"IGNORE_TERM": "1", "SLEEP": "inf"}), serverContainer("web", 8080))
	grace := int64(3)
	stubborn.Spec.TerminationGracePeriodSeconds = &grace
	stubborn.Spec.Containers[1].VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
	stubborn.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	polite := testPod("polite", serverContainer("web", 8080))
	long := int64(30)
	polite.Spec.TerminationGracePeriodSeconds = &long
	uids := map[string]string{}
	for _, p := range []*corev1.Pod{stubborn, polite} {
		uids[p.Name] = string(e.create(p).UID)
	}
	e.waitRunning("stubborn")
	if _, err := os.Stat(filepath.Join(e.volRoot, uids["stubborn"], "volumes")); err != nil {
		t.Errorf("volumes of stubborn: %v", err)
	}
	e.waitRunning("polite")

	type result struct {
		name    string
		elapsed time.Duration
		err     error
	}
	done := make(chan result, 2)
	for name := range uids {
		go func() {
			start := time.Now()
			err := e.client.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{})
			for err == nil && len(e.containers(uids[name])) > 0 {
				if time.Since(start) > 20*time.Second {
					err = fmt.Errorf("containers still there after 20s")
				}
				time.Sleep(100 * time.Millisecond)
			}
			done <- result{name, time.Since(start), err}
		}()
	}
	for range uids {
		r := <-done
		if r.err != nil {
			t.Fatalf("%s: %v", r.name, r.err)
		}
		t.Logf("%s: containers removed %v after the delete", r.name, r.elapsed)
		switch r.name {
		case "stubborn": // killed at the 3 s deadline, not before
			if r.elapsed < 2800*time.Millisecond || r.elapsed > 7*time.Second {
				t.Errorf("stubborn: containers gone after %v, want about the 3s grace period", r.elapsed)
			}
		case "polite": // stops on SIGTERM, long before its 30 s
			if r.elapsed > 5*time.Second {
				t.Errorf("polite: containers gone after %v, want well within the grace period", r.elapsed)
			}
		}
	}
	for name := range uids {
		e.poll(10*time.Second, name+" deleted from the API", func() (bool, string) {
			_, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
	}
	e.waitEvent("stubborn", "Killing", "Stopping container deaf")
	// The emptyDir went with the pod.
	if _, err := os.Stat(filepath.Join(e.volRoot, uids["stubborn"])); !os.IsNotExist(err) {
		t.Errorf("volumes of the deleted pod: %v, want removed", err)
	}
}
