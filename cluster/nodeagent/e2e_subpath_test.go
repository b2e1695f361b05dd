package nodeagent_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func shellCmd(name, script string) corev1.Container {
	return corev1.Container{Name: name, Image: imgShell, ImagePullPolicy: corev1.PullNever,
		Command: []string{"/bin/sh", "-c", script}}
}

// A symlink to / in an emptyDir (left there as a container of the pod would) is refused as another
// container's subPath: that container waits with CreateContainerConfigError and a Failed
// event, the pod stays Pending, nothing of the host is visible; a subPath inside the volume
// (and a subPathExpr from the downward API) is mounted through the node's per-container bind
// mount, which is gone once the pod is deleted. A subPathExpr naming an unset variable keeps
// its pod Pending the same way.
func TestE2ESubPathSymlinkRefused(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	// The init container waits until the test has put a symlink to / in the emptyDir (the
	// shell image has no ln), then writes the file the good container reads.
	link := shellCmd("link", "while [ ! -e /shared/go ]; do sleep 0.2; done; mkdir -p /shared/ok/subpath && echo pod-data >/shared/ok/subpath/f")
	link.VolumeMounts = []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}}
	victim := shellCmd("victim", "cat /host/etc/hostname; exec sleep 3600")
	victim.VolumeMounts = []corev1.VolumeMount{{Name: "shared", MountPath: "/host", SubPath: "escape"}}
	good := shellCmd("good", "cat /data/f; exec sleep 3600")
	good.Env = []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	good.VolumeMounts = []corev1.VolumeMount{{Name: "shared", MountPath: "/data", SubPathExpr: "ok/$(POD)"}}
	pod := testPod("subpath", victim, good)
	pod.Spec.InitContainers = []corev1.Container{link}
	pod.Spec.Volumes = []corev1.Volume{{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	uid := e.create(pod).UID
	shared := filepath.Join(e.volRoot, string(uid), "volumes", "empty-dir", "shared")
	e.poll(30*time.Second, "emptyDir made", func() (bool, string) {
		_, err := os.Stat(shared)
		return err == nil, errString(err)
	})
	if err := os.Symlink("/", filepath.Join(shared, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shared, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := e.waitPod("subpath", 60*time.Second, "victim refused, good running", func(p *corev1.Pod) bool {
		return waitingReason(p, "victim") == "CreateContainerConfigError" && status(p, "good").State.Running != nil
	})
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", p.Status.Phase)
	}
	if msg := status(p, "victim").State.Waiting.Message; !strings.Contains(msg, "resolves outside its volume") {
		t.Errorf("victim waiting message %q", msg)
	}
	e.waitEvent("subpath", "Failed", "Error: ", "escape", "resolves outside its volume")
	for _, c := range e.containers(string(p.UID)) {
		if strings.Contains(c.Name, "victim") {
			t.Errorf("a container %s was created for the refused subPath", c.Name)
		}
	}
	e.poll(15*time.Second, "good printed its subPath file", func() (bool, string) {
		out, err := e.kubectl("logs", "subpath", "-c", "good")
		return err == nil && out == "pod-data\n", out + errString(err)
	})

	expr := shellCmd("app", "exec sleep 3600")
	expr.VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/v", SubPathExpr: "logs/$(NOPE)"}}
	bad := testPod("badexpr", expr)
	bad.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	e.create(bad)
	p = e.waitPod("badexpr", 30*time.Second, "waiting CreateContainerConfigError", func(p *corev1.Pod) bool {
		return waitingReason(p, "app") == "CreateContainerConfigError"
	})
	if msg := status(p, "app").State.Waiting.Message; p.Status.Phase != corev1.PodPending || msg != "missing value for NOPE" {
		t.Errorf("phase %s, message %q: want Pending, missing value for NOPE", p.Status.Phase, msg)
	}
	e.waitEvent("badexpr", "Failed", "Error: missing value for NOPE")

	// Deleting the pod unmounts its subPath bind mounts.
	zero := int64(0)
	if err := e.client.CoreV1().Pods("default").Delete(context.Background(), "subpath", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	e.poll(30*time.Second, "subPath mounts gone", func() (bool, string) {
		b, _ := os.ReadFile("/proc/self/mountinfo")
		var left []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, e.volRoot+"/"+string(uid)) || strings.Contains(l, "volume-subpaths") && strings.Contains(l, e.volRoot) {
				left = append(left, l)
			}
		}
		return len(left) == 0, strings.Join(left, "\n")
	})
}
