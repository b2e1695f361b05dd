package nodeagent_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// imagePullPolicy Never with a missing image gives ErrImageNeverPull; an image that cannot be
// pulled gives ErrImagePull, then ImagePullBackOff.
func TestE2EImagePull(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := e.client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "unpullable").String()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	never := exitContainer("main", nil)
	never.Image = "drover/not-here:1"
	e.create(testPod("never", never))
	// A registry on a closed loopback port: the pull fails at once.
	bad := exitContainer("main", nil)
	bad.Image, bad.ImagePullPolicy = "127.0.0.1:1/drover/nothing:1", corev1.PullIfNotPresent
	e.create(testPod("unpullable", bad))

	p := e.waitPod("never", 15*time.Second, "ErrImageNeverPull", func(p *corev1.Pod) bool { return waitingReason(p, "main") == "ErrImageNeverPull" })
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("never: phase %s, want Pending", p.Status.Phase)
	}
	e.waitEvent("never", "ErrImageNeverPull", `"drover/not-here:1" is not present with pull policy of Never`)

	var seen []string
	for ev := range w.ResultChan() {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		if r := waitingReason(p, "main"); r != "" && (len(seen) == 0 || seen[len(seen)-1] != r) {
			seen = append(seen, r)
		}
		if len(seen) >= 2 && seen[len(seen)-1] == "ImagePullBackOff" {
			break
		}
	}
	i := 0
	for i < len(seen) && seen[i] == "ContainerCreating" {
		i++
	}
	if len(seen) < i+2 || seen[i] != "ErrImagePull" || seen[i+1] != "ImagePullBackOff" {
		t.Fatalf("waiting reasons %v, want ErrImagePull then ImagePullBackOff", seen)
	}
	e.waitEvent("unpullable", "Failed", `Failed to pull image "127.0.0.1:1/drover/nothing:1"`)
	if p := e.get("unpullable"); p.Status.Phase != corev1.PodPending {
		t.Errorf("unpullable: phase %s, want Pending", p.Status.Phase)
	}
}
