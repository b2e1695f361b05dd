package podautoscaler_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-ci/drover/internal/uptest"
)

// TestDockerAutoscale: real kubectl against `drover up` on the real Docker engine. An RC of
// drover/testserver pods requesting 100m CPU gets `kubectl autoscale rc/burn --cpu-percent=50
// --min=1 --max=3`; its HPA is given a 10 s scale-down window (as the test's behavior). The
// pod is made to burn half a core: the RC scales out within 2 minutes, `kubectl get hpa`
// shows the CPU target as "cpu: N%/50%"; the burning stops: it scales back in to 1.
func TestDockerAutoscale(t *testing.T) {
	env := uptest.Start(t, uptest.Options{Name: "hpa", Subnet: "10.154.0.0/16", ServiceCIDR: "10.155.0.0/16",
		ClusterDNS: "10.156.0.10", NodePortRange: "32950-32999", Images: []string{"drover/testserver:1"},
		NeedKubectl: true, Args: []string{"--metric-resolution", "5s"}})
	ctx := context.Background()
	one := int32(1)
	labels := map[string]string{"app": "burn"}
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "burn"}, Spec: corev1.ReplicationControllerSpec{
		Replicas: &one, Selector: labels, Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "server", Image: "drover/testserver:1", ImagePullPolicy: corev1.PullNever,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}}}
	if _, err := env.Client.CoreV1().ReplicationControllers("default").Create(ctx, rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl := func(args ...string) (string, error) {
		cmd := exec.Command("kubectl", append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
		cmd.Env = append(os.Environ(), "KUBECACHEDIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := kubectl("autoscale", "rc/burn", "--cpu-percent=50", "--min=1", "--max=3"); err != nil {
		t.Fatalf("kubectl autoscale: %v\n%s", err, out)
	}
	patch := `{"spec":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":10}}}}`
	if _, err := env.Client.AutoscalingV2().HorizontalPodAutoscalers("default").Patch(ctx, "burn", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip string
	uptest.Eventually(t, time.Minute, "the RC's pod running and ready", func() bool {
		pods, err := env.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=burn"})
		if err != nil || len(pods.Items) != 1 || !ready(&pods.Items[0]) {
			return false
		}
		ip = pods.Items[0].Status.PodIP
		return ip != ""
	})
	burn(t, ip, "0.5")

	var out string
	t.Cleanup(func() {
		if t.Failed() {
			all, _ := kubectl("describe", "hpa", "burn")
			t.Logf("last output:\n%s\nkubectl describe hpa burn:\n%s", out, all)
		}
	})
	uptest.Eventually(t, 2*time.Minute, "the RC scaled out by the HPA", func() bool {
		r, err := env.Client.CoreV1().ReplicationControllers("default").Get(ctx, "burn", metav1.GetOptions{})
		return err == nil && *r.Spec.Replicas > 1
	})
	uptest.Eventually(t, time.Minute, "kubectl get hpa showing the CPU target", func() bool {
		var err error
		out, err = kubectl("get", "hpa", "burn")
		return err == nil && strings.Contains(out, "/50%") && strings.Contains(out, "cpu: ") && !strings.Contains(out, "<unknown>")
	})
	t.Logf("kubectl get hpa burn:\n%s", out)
	if ev, _ := kubectl("get", "events", "--field-selector", "reason=SuccessfulRescale", "-o", "custom-columns=MSG:.message"); !strings.Contains(ev, "reason: cpu resource utilization (percentage of request) above target") {
		t.Errorf("no SuccessfulRescale event for the scale-out:\n%s", ev)
	}

	pods, err := env.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=burn"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.PodIP != "" {
			burn(t, p.Status.PodIP, "0")
		}
	}
	uptest.Eventually(t, 3*time.Minute, "the RC scaled back in to 1 after the load stopped", func() bool {
		r, err := env.Client.CoreV1().ReplicationControllers("default").Get(ctx, "burn", metav1.GetOptions{})
		out, _ = kubectl("get", "hpa", "burn")
		return err == nil && *r.Spec.Replicas == 1
	})
	t.Logf("kubectl get hpa burn:\n%s", out)
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// burn makes the testserver at ip burn cores of CPU.
func burn(t *testing.T, ip, cores string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	var err error
	for i := 0; i < 20; i++ {
		var resp *http.Response
		resp, err = c.Post(fmt.Sprintf("http://%s:8080/burn?cpu=%s", ip, cores), "text/plain", nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("POST /burn?cpu=%s to %s: %v", cores, ip, err)
}
