package nodeagent_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Two containers of one pod share the infra container's network namespace (they talk over
// localhost) and an emptyDir (what one writes the other reads).
func TestE2ELocalhostAndEmptyDir(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	mount := []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}}
	a, b := serverContainer("a", 8080), serverContainer("b", 8081)
	a.VolumeMounts, b.VolumeMounts = mount, mount
	pod := testPod("pair", a, b)
	pod.Spec.Volumes = []corev1.Volume{{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	e.create(pod)
	p := e.waitRunning("pair")
	if !strings.HasPrefix(p.Status.PodIP, "10.89.") || p.Status.HostIP != "127.0.0.1" {
		t.Errorf("podIP %q hostIP %q: want 10.89.x.x and 127.0.0.1", p.Status.PodIP, p.Status.HostIP)
	}
	base := "http://" + p.Status.PodIP

	// a fetches b's /echo over localhost; b answers, seeing a request from 127.0.0.1.
	body := mustHTTP(t, "GET", base+":8080/get?url=http://localhost:8081/echo")
	if !strings.HasPrefix(body, "200\nGET /echo") || !strings.Contains(body, "remote: 127.0.0.1:") {
		t.Errorf("a -> localhost:8081 answered %q", body)
	}

	mustHTTP(t, "POST", base+":8080/write?path=/shared/note&data=from-a")
	if got := mustHTTP(t, "GET", base+":8081/file?path=/shared/note"); got != "from-a" {
		t.Errorf("b read %q from the emptyDir, want from-a", got)
	}

	// The emptyDir outlives a container restart.
	httpDo("POST", base+":8081/exit?code=3")
	p = e.waitPod("pair", 30e9, "b restarted", func(p *corev1.Pod) bool {
		return status(p, "b").RestartCount == 1 && p.Status.Phase == corev1.PodRunning && podReady(p)
	})
	if lt := status(p, "b").LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 || lt.Reason != "Error" {
		t.Errorf("b lastState = %+v, want exit 3 Error", lt)
	}
	e.poll(10e9, "b answers again", func() (bool, string) {
		code, got, err := httpDo("GET", base+":8081/file?path=/shared/note")
		return code == 200 && got == "from-a", fmt.Sprint(code, got, err)
	})
}
