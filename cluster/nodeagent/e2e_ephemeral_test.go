package nodeagent_test

import (
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/internal/logtest"
)

// An ephemeral container added through pods/ephemeralcontainers is started once in the running
// pod, in its target container's PID namespace, and reported in ephemeralContainerStatuses
// (never ready); `kubectl debug -i POD --image=... --target=app` runs a shell in it.
func TestE2EEphemeralContainers(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	ctx := context.Background()
	e.create(testPod("debugme", shellCmd("app", "exec sleep 3600")))
	p := e.waitRunning("debugme")

	p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
		TargetContainerName: "app",
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "peek", Image: imgShell, ImagePullPolicy: corev1.PullNever,
			Command: []string{"/bin/sh", "-c", "cat /proc/1/cmdline; echo; exec sleep 3600"}}})
	if _, err := e.client.CoreV1().Pods("default").UpdateEphemeralContainers(ctx, "debugme", p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = e.waitPod("debugme", 30*time.Second, "peek running", func(p *corev1.Pod) bool {
		return len(p.Status.EphemeralContainerStatuses) == 1 && p.Status.EphemeralContainerStatuses[0].State.Running != nil
	})
	if st := p.Status.EphemeralContainerStatuses[0]; st.Name != "peek" || st.Ready || st.ContainerID == "" {
		t.Errorf("ephemeral status %+v", st)
	}
	if !podReady(p) || p.Status.Phase != corev1.PodRunning {
		t.Errorf("pod after the ephemeral container: %s", describeStatus(p))
	}
	// PID 1 of its namespace is the target's process.
	e.poll(15*time.Second, "peek sees app's sleep as PID 1", func() (bool, string) {
		out, err := e.kubectl("logs", "debugme", "-c", "peek")
		return out == "sleep\x003600\x00\n", out + errString(err)
	})

	// kubectl debug: its own ephemeral container, attached with stdin.
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, "kubectl", "--kubeconfig", e.srv.Kubeconfig, "debug", "-i", "debugme",
		"--image="+imgShell, "--image-pull-policy=Never", "--target=app", "--container=dbg", "--", "/bin/sh")
	// Stdin stays open until the answer came: closing it ends the attach (the engine's
	// attach ends with its stdin), whatever the shell prints afterwards.
	stdin, w := io.Pipe()
	cmd.Stdin = stdin
	var out logtest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.WriteString(w, "echo from-debug; cat /proc/1/cmdline; echo\n") }()
	e.poll(45*time.Second, "kubectl debug's shell answers", func() (bool, string) {
		got := out.String()
		return strings.Contains(got, "from-debug\nsleep\x003600\x00\n"), got
	})
	_, _ = io.WriteString(w, "exit 0\n")
	w.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("kubectl debug: %v: %q", err, out.String())
	}
	p = e.get("debugme")
	if len(p.Status.EphemeralContainerStatuses) != 2 || p.Spec.EphemeralContainers[1].Name != "dbg" {
		t.Errorf("after kubectl debug: %d ephemeral statuses", len(p.Status.EphemeralContainerStatuses))
	}
}
