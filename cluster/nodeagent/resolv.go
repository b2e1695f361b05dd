package nodeagent

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover-ci/drover/cluster/container"
)

// resolvPath is where a container's resolver configuration goes.
const resolvPath = "/etc/resolv.conf"

// resolvMount is the bind mount of the pod's /etc/resolv.conf as a CRI runtime writes it from
// the kubelet's DNS config (search paths, nameservers, options of the pod's dnsPolicy and
// dnsConfig), unless c mounts a volume there itself, the node has no volume manager (hollow),
// or the pod names no nameserver of its own. On a user-defined Docker network the engine's
// own file names its embedded resolver, 127.0.0.11, instead of the pod's nameservers (which it
// forwards to): a pod reading its resolv.conf (the conformance spec "should support
// configurable pod DNS nameservers") saw the wrong server. A pod on the host's resolvers alone
// keeps the engine's file: its embedded resolver forwards to them, which a loopback resolver
// of the host (systemd-resolved's) would not be inside the pod.
func (w *podWorker) resolvMount(c *corev1.Container) (container.Mount, bool, error) {
	if w.a.cfg.Volumes == nil {
		return container.Mount{}, false, nil
	}
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == resolvPath {
			return container.Mount{}, false, nil
		}
	}
	content, ok, err := w.a.podResolvConf(w.pod)
	if err != nil || !ok {
		return container.Mount{}, false, err
	}
	path, err := w.a.cfg.Volumes.ResolvFile(w.uid, content)
	if err != nil {
		return container.Mount{}, false, fmt.Errorf("resolv.conf: %w", err)
	}
	return container.Mount{Type: "bind", Source: path, Target: resolvPath}, true, nil
}

// podResolvConf is the pod's resolv.conf, false when it names no nameserver of its own: the
// kubelet's getPodDNS — ClusterFirst: the cluster's nameserver, the cluster's search paths then
// the node's; Default (and ClusterFirst on the host network): the node's nameservers, search
// paths and options; None: nothing — then dnsConfig's nameservers and searches appended and
// its options merged (a later option of the same name replaces the earlier).
func (a *Agent) podResolvConf(pod *corev1.Pod) ([]byte, bool, error) {
	var spec container.Spec
	a.setDNS(&spec, pod)
	if len(spec.DNS) == 0 {
		return nil, false, nil
	}
	ns, search, opts := spec.DNS, spec.DNSSearch, spec.DNSOptions
	policy := pod.Spec.DNSPolicy
	onHost := policy == corev1.DNSDefault || (pod.Spec.HostNetwork && (policy == "" || policy == corev1.DNSClusterFirst))
	clusterFirst := !onHost && policy != corev1.DNSNone
	if onHost || clusterFirst {
		node, err := os.ReadFile(a.cfg.NodeResolvConf)
		if err != nil && !os.IsNotExist(err) {
			return nil, false, fmt.Errorf("reading the node's %s: %w", a.cfg.NodeResolvConf, err)
		}
		hns, hsearch, hopts := parseResolvConf(node)
		if onHost {
			ns = append(hns, ns...)
			opts = append(hopts, opts...)
		}
		if clusterFirst && a.cfg.ClusterDNS != "" {
			search = append(search[:3:3], append(hsearch, search[3:]...)...)
		} else if onHost {
			search = append(hsearch, search...)
		}
	}
	var b bytes.Buffer
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	for _, n := range ns {
		b.WriteString("nameserver " + n + "\n")
	}
	if opts = mergeOptions(opts); len(opts) > 0 {
		b.WriteString("options " + strings.Join(opts, " ") + "\n")
	}
	return b.Bytes(), true, nil
}

// parseResolvConf reads a resolv.conf's nameservers (loopback ones left out: they do not
// answer inside a pod, Docker drops them too), search paths and options.
func parseResolvConf(b []byte) (ns, search, opts []string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if ip := net.ParseIP(f[1]); ip != nil && !ip.IsLoopback() {
				ns = append(ns, f[1])
			}
		case "search", "domain":
			search = f[1:]
		case "options":
			opts = append(opts, f[1:]...)
		}
	}
	return ns, search, opts
}

// mergeOptions keeps one option per name, the last given, in the order names first appear.
func mergeOptions(opts []string) []string {
	var out []string
	at := map[string]int{}
	for _, o := range opts {
		name, _, _ := strings.Cut(o, ":")
		if i, ok := at[name]; ok {
			out[i] = o
			continue
		}
		at[name] = len(out)
		out = append(out, o)
	}
	return out
}
