package endpointslice

import (
	"context"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/internal/uptest"
)

// runningPod creates a pod of app=web and reports it running at ip, ready or not.
func runningPod(t *testing.T, cs kubernetes.Interface, name, ip string, ready bool) {
	t.Helper()
	ctx := t.Context()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36",
			Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8080}}}}}}
	made, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	made.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, made, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func slicesOf(ctx context.Context, cs kubernetes.Interface, svc string) []discoveryv1.EndpointSlice {
	l, err := cs.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return nil
	}
	return l.Items
}

// TestIntegrationSlicesFollowPodsAndService runs the controller against the real API server
// with at most two endpoints a slice: three pods make two slices; the Service's deletion takes
// them away (ownerReference); and real kubectl's `describe svc`, which reads slices, lists the
// ready endpoints.
func TestIntegrationSlicesFollowPodsAndService(t *testing.T) {
	srv, cs := controllertest.Run(t, func(cc controller.Context) (*Controller, error) {
		c, err := New(cc)
		if c != nil {
			c.maxPerSlice = 2
		}
		return c, err
	})
	ctx := t.Context()
	svc := webService()
	svc.UID, svc.Spec.ClusterIP = "", ""
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the placeholder slice of a service without pods", func() bool {
		s := slicesOf(ctx, cs, "web")
		return len(s) == 1 && len(s[0].Endpoints) == 0
	})
	runningPod(t, cs, "a", "10.88.0.2", true)
	runningPod(t, cs, "b", "10.88.0.3", true)
	runningPod(t, cs, "c", "10.88.0.4", false)
	uptest.Eventually(t, 10*time.Second, "two slices holding the three pods", func() bool {
		s := slicesOf(ctx, cs, "web")
		if len(s) != 2 {
			return false
		}
		n := 0
		for _, es := range s {
			n += len(es.Endpoints)
			if es.AddressType != discoveryv1.AddressTypeIPv4 || es.Labels[discoveryv1.LabelManagedBy] != ControllerName || !strings.HasPrefix(es.Name, "web-") {
				return false
			}
		}
		return n == 3
	})

	if _, err := exec.LookPath("kubectl"); err != nil {
		uptest.RequireE2E(t, "kubectl not found on PATH: "+err.Error())
	} else {
		kctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		out, err := exec.CommandContext(kctx, "kubectl", "--kubeconfig", srv.Kubeconfig, "describe", "svc", "web").CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl describe svc: %v\n%s", err, out)
		}
		// kubectl lists the ready endpoints slice by slice (by name, endpoints in slice order).
		if got := describedEndpoints(string(out), "http"); got != "10.88.0.2:8080,10.88.0.3:8080" {
			t.Errorf("kubectl describe svc shows the http endpoints %q from the slices, want the ready pods a and b:\n%s", got, out)
		}
		out, err = exec.CommandContext(kctx, "kubectl", "--kubeconfig", srv.Kubeconfig, "get", "endpointslices", "-l", "kubernetes.io/service-name=web").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ADDRESSTYPE") || !strings.Contains(string(out), "IPv4") || !strings.Contains(string(out), "8080,50000") {
			t.Errorf("kubectl get endpointslices: %v\n%s", err, out)
		}
	}

	if err := cs.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 10*time.Second, "the slices gone with their service", func() bool {
		return len(slicesOf(ctx, cs, "web")) == 0
	})
}

// describedEndpoints is the Endpoints line under port name in `kubectl describe svc` output,
// its entries sorted.
func describedEndpoints(out, port string) string {
	in := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "Port:":
			in = f[1] == port
		case in && len(f) >= 1 && f[0] == "Endpoints:":
			if len(f) < 2 {
				return ""
			}
			eps := strings.Split(f[1], ",")
			sort.Strings(eps)
			return strings.Join(eps, ",")
		}
	}
	return ""
}
