package nodeagent_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/nodeagent"
)

// Two containers of one pod share the infra container's network namespace (they talk over
// localhost) and an emptyDir (what one writes the other reads).
func TestE2ELocalhostAndEmptyDir(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	mount := []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}, {Name: "ram", MountPath: "/ram"}}
	a, b := serverContainer("a", 8080), serverContainer("b", 8081)
	a.VolumeMounts, b.VolumeMounts = mount, mount
	hostPort := freePort(t)
	b.Ports = []corev1.ContainerPort{{ContainerPort: 8081, HostPort: int32(hostPort), Protocol: corev1.ProtocolTCP}}
	pod := testPod("pair", a, b)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "ram", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
	}
	e.create(pod)
	p := e.waitRunning("pair")

	// b's hostPort is published by the infra container on the node.
	if body := mustHTTP(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/echo", hostPort)); !strings.HasPrefix(body, "GET /echo") {
		t.Errorf("hostPort %d answered %q", hostPort, body)
	}
	// A Memory emptyDir is a tmpfs on the node.
	ramDir := ""
	for _, c := range e.containers(string(p.UID)) {
		if c.Labels[nodeagent.LabelContainer] == "a" {
			j, err := e.dockerCLI().ContainerInspect(context.Background(), c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range j.Mounts {
				if m.Destination == "/ram" {
					ramDir = m.Source
				}
			}
		}
	}
	if mounts, _ := os.ReadFile("/proc/self/mounts"); ramDir == "" || !strings.Contains(string(mounts), "tmpfs "+ramDir+" tmpfs") {
		t.Errorf("Memory emptyDir %q is not a tmpfs mount on the node", ramDir)
	}
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
