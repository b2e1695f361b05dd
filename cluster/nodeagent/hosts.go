package nodeagent

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// etcHostsPath is where a container's managed hosts file goes.
const etcHostsPath = "/etc/hosts"

// hostsMount is the bind mount of the pod's managed /etc/hosts (the kubelet's
// managedHostsFileContent: localhost entries, the pod's IP with its hostname, and its
// hostAliases, all names of one alias on one line; on the host network the node's hosts file
// and the hostAliases, nodeHostsFileContent), unless c mounts a volume there itself or
// the node has no volume manager (hollow) or the pod no IP yet.
func (w *podWorker) hostsMount(c *corev1.Container) (container.Mount, bool, error) {
	if w.a.cfg.Volumes == nil || w.infra == nil || w.infra.IP == "" {
		return container.Mount{}, false, nil
	}
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == etcHostsPath {
			return container.Mount{}, false, nil
		}
	}
	content := managedHosts(w.pod, w.infra.IP)
	if w.pod.Spec.HostNetwork {
		node, err := os.ReadFile(w.a.cfg.NodeHosts)
		if err != nil {
			return container.Mount{}, false, fmt.Errorf("hosts file: reading the node's: %w", err)
		}
		content = nodeHosts(node, w.pod.Spec.HostAliases)
	}
	path, err := w.a.cfg.Volumes.HostsFile(w.uid, content)
	if err != nil {
		return container.Mount{}, false, fmt.Errorf("hosts file: %w", err)
	}
	return container.Mount{Type: "bind", Source: path, Target: etcHostsPath}, true, nil
}

// managedHosts is the content of a pod's /etc/hosts, byte for byte the kubelet's.
func managedHosts(pod *corev1.Pod, podIP string) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	host := hostnameOf(pod)
	if pod.Spec.Subdomain != "" {
		fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", podIP, host, pod.Spec.Subdomain, pod.Namespace, clusterDomain, host)
	} else {
		fmt.Fprintf(&b, "%s\t%s\n", podIP, host)
	}
	b.Write(hostAliasEntries(pod.Spec.HostAliases))
	return b.Bytes()
}

// nodeHosts is the content of a hostNetwork pod's /etc/hosts, byte for byte the kubelet's
// nodeHostsFileContent: a header of its own, the node's hosts file, the hostAliases.
func nodeHosts(node []byte, aliases []corev1.HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file (host network).\n")
	b.Write(node)
	b.Write(hostAliasEntries(aliases))
	return b.Bytes()
}

// hostAliasEntries are the kubelet's hostsEntriesFromHostAliases.
func hostAliasEntries(aliases []corev1.HostAlias) []byte {
	if len(aliases) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, ha := range aliases {
		fmt.Fprintf(&b, "%s\t%s\n", ha.IP, strings.Join(ha.Hostnames, "\t"))
	}
	return b.Bytes()
}
