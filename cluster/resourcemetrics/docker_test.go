package resourcemetrics_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/internal/uptest"
)

// TestDockerKubectlTop: real kubectl against `drover up` on the real Docker engine: a pod
// burning CPU shows non-zero CPU and memory in `kubectl top pods -A` and `kubectl top pod
// --containers`, and its node in `kubectl top nodes`.
func TestDockerKubectlTop(t *testing.T) {
	env := uptest.Start(t, uptest.Options{Name: "rmetrics", Subnet: "10.151.0.0/16", ServiceCIDR: "10.152.0.0/16",
		ClusterDNS: "10.153.0.10", NodePortRange: "32900-32949", Images: []string{"drover/testserver:1"},
		NeedKubectl: true, Args: []string{"--metric-resolution", "2s"}})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "burner", Labels: map[string]string{"app": "burner"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "burn", Image: "drover/testserver:1",
			ImagePullPolicy: corev1.PullNever, Env: []corev1.EnvVar{{Name: "BURN_CPU", Value: "0.3"}}}}}}
	if _, err := env.Client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl := func(args ...string) (string, error) {
		cmd := exec.Command("kubectl", append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
		cmd.Env = append(os.Environ(), "KUBECACHEDIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	var out string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last kubectl output:\n%s", out)
		}
	})
	uptest.Eventually(t, 2*time.Minute, "kubectl top pods -A showing the burner busy", func() bool {
		var err error
		out, err = kubectl("top", "pods", "-A")
		f := fields(out, "burner")
		return err == nil && len(f) == 4 && milli(f[2]) >= 50 && bytesOf(f[3]) > 0
	})
	t.Logf("kubectl top pods -A:\n%s", out)
	out, err := kubectl("top", "pod", "burner", "--containers")
	if f := fields(out, "burner burn"); err != nil || len(f) != 4 || milli(f[2]) == 0 || bytesOf(f[3]) == 0 {
		t.Errorf("kubectl top pod burner --containers: %v\n%s", err, out)
	}
	uptest.Eventually(t, time.Minute, "kubectl top nodes showing the node busy", func() bool {
		out, err = kubectl("top", "nodes")
		f := fields(out, env.Node)
		return err == nil && len(f) == 5 && milli(f[1]) >= 50 && bytesOf(f[3]) > 0
	})
	t.Logf("kubectl top nodes:\n%s", out)
}

// milli reads a kubectl CPU cell: "312m" or "1" (cores).
func milli(cell string) int64 {
	if n, err := strconv.ParseInt(strings.TrimSuffix(cell, "m"), 10, 64); err == nil {
		if strings.HasSuffix(cell, "m") {
			return n
		}
		return n * 1000
	}
	return 0
}

// bytesOf reads a kubectl memory cell ("12Mi"), 0 if it is not one.
func bytesOf(cell string) int64 {
	for suffix, mult := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if n, err := strconv.ParseInt(strings.TrimSuffix(cell, suffix), 10, 64); err == nil && strings.HasSuffix(cell, suffix) {
			return n * mult
		}
	}
	n, _ := strconv.ParseInt(cell, 10, 64)
	return n
}
