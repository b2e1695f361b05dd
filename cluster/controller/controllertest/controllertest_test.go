package controllertest

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestFake: objects start in the clientset but reach the caches only through Cache, created
// pods are named from their GenerateName in sequence, and Events drains the recorder.
func TestFake(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns"}}
	f := NewFake(now, 2, pod, job)
	f.NamePods()
	if !f.Clock.Now().Equal(now) {
		t.Errorf("clock at %v, want %v", f.Clock.Now(), now)
	}
	if _, err := f.Client.CoreV1().Pods("ns").Get(t.Context(), "p", metav1.GetOptions{}); err != nil {
		t.Errorf("pod not in the clientset: %v", err)
	}
	pods := f.Informers.Core().V1().Pods().Lister()
	if _, err := pods.Pods("ns").Get("p"); err == nil {
		t.Error("pod in the cache before Cache")
	}
	f.Cache(t, pod, job)
	if _, err := pods.Pods("ns").Get("p"); err != nil {
		t.Errorf("pod not cached: %v", err)
	}
	if _, err := f.Informers.Batch().V1().Jobs().Lister().Jobs("ns").Get("j"); err != nil {
		t.Errorf("job not cached: %v", err)
	}

	var names []string
	for range 2 {
		p, err := f.Client.CoreV1().Pods("ns").Create(t.Context(),
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: "ns"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(p.UID) != p.Name {
			t.Errorf("pod %s has UID %q, want its name", p.Name, p.UID)
		}
		names = append(names, p.Name)
	}
	if names[0] != "web-00001" || names[1] != "web-00002" {
		t.Errorf("created pods %v, want web-00001 web-00002", names)
	}

	rec := f.Context().Recorder("any")
	rec.Event(pod, corev1.EventTypeNormal, "A", "one")
	rec.Event(pod, corev1.EventTypeWarning, "B", "two")
	if got := f.Events(); len(got) != 2 || got[0] != "Normal A one" || got[1] != "Warning B two" {
		t.Errorf("events = %q", got)
	}
	if got := f.Events(); len(got) != 0 {
		t.Errorf("events after draining = %q", got)
	}
}
