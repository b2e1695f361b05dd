package nodeagent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

const imgShell = "drover/shell:1"

// probeScript prints what the container's process is allowed: its ids, effective
// capabilities, no_new_privs and seccomp mode, whether / is writable and a sysctl, then sleeps.
const probeScript = `id; while read -r k v; do case $k in CapEff:|NoNewPrivs:|Seccomp:) echo "$k $v";; esac; done </proc/self/status
if (echo x >/probe) 2>/dev/null; then echo rootfs=rw; else echo rootfs=ro; fi
echo shm_rmid_forced=$(cat /proc/sys/kernel/shm_rmid_forced); echo done; exec sleep 3600`

func shellContainer(name string) corev1.Container {
	return corev1.Container{Name: name, Image: imgShell, ImagePullPolicy: corev1.PullNever,
		Command: []string{"/bin/sh", "-c", probeScript}}
}

// The security context is applied as the kubelet applies it, observed inside the containers:
// runAsUser/runAsGroup, fsGroup and supplementalGroups in `id`; capabilities drop ALL + add
// CHOWN in CapEff; allowPrivilegeEscalation: false in NoNewPrivs; readOnlyRootFilesystem in a
// failing write to /; a safe sysctl; seccomp Unconfined vs the default profile; and the pod's
// runAsNonRoot refuses a container whose image runs as root with the kubelet's message.
func TestE2ESecurityContextApplied(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	yes, no := true, false
	uid, gid, fsg := int64(1000), int64(3000), int64(2000)

	user := shellContainer("user")
	user.SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no}
	root := shellContainer("root")
	zero := int64(0)
	root.SecurityContext = &corev1.SecurityContext{RunAsUser: &zero, RunAsNonRoot: &no,
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"CHOWN"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}
	pod := testPod("confined", user, root)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &uid, RunAsGroup: &gid, RunAsNonRoot: &yes,
		FSGroup: &fsg, SupplementalGroups: []int64{4000},
		Sysctls: []corev1.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}}}
	e.create(pod)
	e.waitPod("confined", 30*time.Second, "both containers running", func(p *corev1.Pod) bool {
		return status(p, "user").State.Running != nil && status(p, "root").State.Running != nil
	})
	logs := func(c string) string {
		var out string
		e.poll(15*time.Second, c+" printed its settings", func() (bool, string) {
			o, err := e.kubectl("logs", "confined", "-c", c)
			out = o
			return err == nil && strings.HasSuffix(o, "done\n"), o
		})
		return out
	}
	want := "uid=1000 gid=3000 groups=3000,2000,4000\nCapEff: 0000000000000000\nNoNewPrivs: 1\nSeccomp: 2\nrootfs=ro\nshm_rmid_forced=1\ndone\n"
	if d := cmp.Diff(want, logs("user")); d != "" {
		t.Errorf("user container (-want +got):\n%s", d)
	}
	want = "uid=0 gid=3000 groups=3000,2000,4000\nCapEff: 0000000000000001\nNoNewPrivs: 0\nSeccomp: 0\nrootfs=rw\nshm_rmid_forced=1\ndone\n"
	if d := cmp.Diff(want, logs("root")); d != "" {
		t.Errorf("root container (-want +got):\n%s", d)
	}

	// runAsNonRoot with an image that runs as root (drover/shell names no user): not started.
	nr := shellContainer("main")
	nr.SecurityContext = &corev1.SecurityContext{RunAsNonRoot: &yes}
	created := e.create(testPod("nonroot", nr))
	p := e.waitPod("nonroot", 30*time.Second, "CreateContainerConfigError", func(p *corev1.Pod) bool {
		return waitingReason(p, "main") == "CreateContainerConfigError"
	})
	wantMsg := `container has runAsNonRoot and image will run as root (pod: "nonroot_default(` + string(created.UID) + `)", container: main)`
	if got := status(p, "main").State.Waiting.Message; got != wantMsg {
		t.Errorf("waiting message %q, want %q", got, wantMsg)
	}
	if cs := e.containers(string(created.UID)); len(cs) > 1 {
		t.Errorf("a root container with runAsNonRoot was created: %d containers", len(cs))
	}
}
