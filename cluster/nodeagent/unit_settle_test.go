package nodeagent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/drover-ci/drover/cluster/container"
)

// A SIGKILLed container not (yet) marked OOMKilled holds its status back 2 s, or 5 s with a
// memory limit (Docker's OOM flag can come later than 2 s under load); an OOMKilled or other
// exit does not.
func TestSettlingByMemoryLimit(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "plain"},
		{Name: "limited", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}}},
	}}}
	exited := func(name string, code int, oom bool) *podView {
		return newPodView([]container.Container{{State: container.StateExited, ExitCode: code, OOMKilled: oom, FinishedAt: t0,
			Labels: map[string]string{LabelContainer: name}}})
	}
	for _, c := range []struct {
		name  string
		code  int
		oom   bool
		after time.Duration
		want  bool
	}{
		{"plain", 137, false, time.Second, true},
		{"plain", 137, false, 3 * time.Second, false},
		{"limited", 137, false, 3 * time.Second, true},
		{"limited", 137, false, 6 * time.Second, false},
		{"limited", 137, true, 0, false},
		{"limited", 1, false, 0, false},
	} {
		if got := settling(exited(c.name, c.code, c.oom), pod, t0.Add(c.after)); got != c.want {
			t.Errorf("%s exit %d oom=%v after %s: settling %v, want %v", c.name, c.code, c.oom, c.after, got, c.want)
		}
	}
}
