package streame2e

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/internal/uptest"
)

// percentile of sorted durations, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i]) / float64(time.Millisecond)
}

// BenchmarkExec compares `kubectl exec POD -- true` (kubectl 1.32's WebSocket, through the API
// server and the node agent) with `docker exec CTR true` on the same container, alternating,
// in the same run: p50/p99 of each in ms and the p50 ratio (issue 15's target: ≤ 1.5).
func BenchmarkExec(b *testing.B) {
	env := start(b)
	createPod(b, env, pod("bench-exec", nil, shellContainer("sh")))
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=drover.io/pod-name=bench-exec", "--filter", "label=drover.io/container-name=sh").Output()
	ctr := strings.TrimSpace(string(out))
	if err != nil || ctr == "" || strings.Contains(ctr, "\n") {
		b.Fatalf("the container of bench-exec: %q %v", out, err)
	}
	run := func(name string, args ...string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			b.Fatalf("%s %v: %v %s", name, args, err, out)
		}
		return time.Since(start)
	}
	var kube, dock []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		kube = append(kube, run("kubectl", "--kubeconfig", env.Kubeconfig, "exec", "bench-exec", "--", "true"))
		dock = append(dock, run("docker", "exec", ctr, "true"))
	}
	b.StopTimer()
	slices.Sort(kube)
	slices.Sort(dock)
	b.ReportMetric(percentile(kube, 0.5), "kubectl-p50-ms")
	b.ReportMetric(percentile(kube, 0.99), "kubectl-p99-ms")
	b.ReportMetric(percentile(dock, 0.5), "docker-p50-ms")
	b.ReportMetric(percentile(dock, 0.99), "docker-p99-ms")
	b.ReportMetric(percentile(kube, 0.5)/percentile(dock, 0.5), "p50-ratio")
}

// BenchmarkPortForwardThroughput downloads a 64 MiB file from a pod's HTTP server through
// `kubectl port-forward` (WebSocket, kubectl's default) and straight from the pod IP, in the
// same run: MB/s of each and the ratio (issue 15's target: ≥ 0.5).
func BenchmarkPortForwardThroughput(b *testing.B) {
	env := start(b)
	p := pod("bench-pf", nil, corev1.Container{Name: "fill", Image: shellImage, Command: []string{"sh", "-c", "dd if=/dev/zero of=/data/blob bs=1048576 count=64 && exec sleep 100000"},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}, serverContainer("srv", 8080))
	p.Spec.Containers[1].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	got := createPod(b, env, p)
	locals, _ := portForward(b, env, nil, "pod/bench-pf", "8080")
	direct := fmt.Sprintf("http://%s:8080/file?path=/data/blob", got.Status.PodIP)
	forwarded := fmt.Sprintf("http://127.0.0.1:%d/file?path=/data/blob", locals[0])
	get := func(url string) (time.Duration, int64) {
		start := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || n != 64<<20 {
			b.Fatalf("GET %s: %s, %d bytes, %v", url, resp.Status, n, err)
		}
		return time.Since(start), n
	}
	uptest.Eventually(b, 30*time.Second, "the blob is written", func() bool {
		resp, err := http.Get(direct)
		if err != nil {
			return false
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return n == 64<<20
	})
	var dFwd, dDirect time.Duration
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, n := get(forwarded)
		dFwd += d
		bytes += n
		d, _ = get(direct)
		dDirect += d
	}
	b.StopTimer()
	fwd := float64(bytes) / 1e6 / dFwd.Seconds()
	dir := float64(bytes) / 1e6 / dDirect.Seconds()
	b.ReportMetric(fwd, "forward-MB/s")
	b.ReportMetric(dir, "direct-MB/s")
	b.ReportMetric(fwd/dir, "ratio")
}
