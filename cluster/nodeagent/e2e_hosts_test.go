package nodeagent_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Each container gets the kubelet's managed /etc/hosts: its header, the localhost entries, the
// pod's IP with its hostname (and FQDN with a subdomain), and the hostAliases one line per IP;
// a container that mounts its own /etc/hosts keeps it.
func TestE2EManagedEtcHosts(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	own := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(own, []byte("1.2.3.4\tmine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	managed := shellCmd("managed", "cat /etc/hosts; exec sleep 3600")
	mine := shellCmd("mine", "cat /etc/hosts; exec sleep 3600")
	mine.VolumeMounts = []corev1.VolumeMount{{Name: "hosts", MountPath: "/etc/hosts"}}
	pod := testPod("hosts", managed, mine)
	pod.Spec.Hostname, pod.Spec.Subdomain = "hostx", "sub"
	pod.Spec.HostAliases = []corev1.HostAlias{{IP: "123.45.67.89", Hostnames: []string{"foo", "bar"}}, {IP: "10.1.1.1", Hostnames: []string{"other"}}}
	file := corev1.HostPathFile
	pod.Spec.Volumes = []corev1.Volume{{Name: "hosts", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: own, Type: &file}}}}
	e.create(pod)
	p := e.waitRunning("hosts")
	want := "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n" +
		p.Status.PodIP + "\thostx.sub.default.svc.cluster.local\thostx\n" +
		"\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n10.1.1.1\tother\n"
	for c, w := range map[string]string{"managed": want, "mine": "1.2.3.4\tmine\n"} {
		e.poll(15*time.Second, c+"'s /etc/hosts", func() (bool, string) {
			out, err := e.kubectl("logs", "hosts", "-c", c)
			return out == w, out + errString(err)
		})
	}
}
