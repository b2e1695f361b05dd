package nodeagent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// command, args, workingDir, resource limits and runAsUser reach the engine; exec and
// tcpSocket probes run against the real container.
func TestE2EContainerSettings(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	uid := int64(1234)
	web := serverContainer("web", 8080, corev1.EnvVar{Name: "TCP_PORT", Value: "9000"})
	web.WorkingDir = "/tmp"
	web.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("500m")}
	web.SecurityContext = &corev1.SecurityContext{RunAsUser: &uid}
	web.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/testserver", "probe"}}},
		PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 3}
	web.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9000)}},
		PeriodSeconds: 1, FailureThreshold: 3, TimeoutSeconds: 2}
	cmd := exitContainer("cmd", map[string]string{"SLEEP": "inf"})
	cmd.Command, cmd.Args = []string{"/exit"}, []string{"from", "command"}
	e.create(testPod("settings", web, cmd))
	p := e.waitRunning("settings")

	j, err := e.dockerCLI().ContainerInspect(context.Background(), strings.TrimPrefix(status(p, "web").ContainerID, "docker://"))
	if err != nil {
		t.Fatal(err)
	}
	got := []any{j.Config.WorkingDir, j.Config.User, j.HostConfig.Memory, j.HostConfig.NanoCPUs, string(j.HostConfig.NetworkMode)[:10]}
	want := []any{"/tmp", "1234", int64(64 << 20), int64(500_000_000), "container:"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("web's engine settings (-want +got):\n%s", d)
	}
	out, err := e.kubectl("logs", "settings", "-c", "cmd")
	if err != nil || out != "from\ncommand\n" {
		t.Errorf("command+args printed %q, %v", out, err)
	}

	// The exec readiness probe follows /healthz; the tcpSocket liveness probe the TCP port.
	base := "http://" + p.Status.PodIP + ":8080"
	mustHTTP(t, "POST", base+"/fail")
	e.waitPod("settings", 10*time.Second, "not ready (exec probe)", func(p *corev1.Pod) bool { return !podReady(p) })
	mustHTTP(t, "POST", base+"/ok")
	e.waitPod("settings", 10*time.Second, "ready again", podReady)
	mustHTTP(t, "POST", base+"/tcp-off")
	p = e.waitPod("settings", 15*time.Second, "restarted by the tcpSocket probe", func(p *corev1.Pod) bool {
		return status(p, "web").RestartCount >= 1 && podReady(p)
	})
	if s := status(p, "cmd"); s.RestartCount != 0 || s.State.Running == nil {
		t.Errorf("cmd was disturbed: %s", describeStatus(p))
	}
}
