package walkthrough_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/internal/uptest"
)

// TestWalkthroughOnDocker runs the article's walkthrough with `drover up` on a real Docker
// engine and the real kubectl: the master RC with its hostPath volume and the NodePort
// service, swarm agents that find the master by DNS name, scaling, a rolling update to v2,
// and self-healing of the master with its JENKINS_HOME kept.
func TestWalkthroughOnDocker(t *testing.T) {
	env := walkthroughEnv(t)
	k := &kubectl{t: t, kubeconfig: env.kubeconfig}

	k.must("create", "-f", "jenkins-master-vagrant.yml")
	k.must("create", "-f", "service-vagrant.yml")
	k.must("create", "-f", "jenkins-slaves.yml")

	master := waitRunning(t, k, "name=jenkins", 1)[0]
	waitRunning(t, k, "name=jenkins-slave", 1)
	ip := k.must("get", "svc", "jenkins", "-o", "jsonpath={.spec.clusterIP}")
	if ip == "" || ip == "None" {
		t.Fatalf("service jenkins has no cluster IP: %q", ip)
	}
	ports := k.must("get", "svc", "jenkins", "-o", "jsonpath={.spec.ports[*].nodePort}")
	if len(strings.Fields(ports)) != 2 {
		t.Errorf("service jenkins NodePorts = %q, want two", ports)
	}
	base := "http://" + ip + ":8080"
	// An agent reaches the master by the service's DNS name and registers.
	uptest.Eventually(t, 60*time.Second, "an agent registered with the master through http://jenkins:8080", func() bool {
		return strings.TrimSpace(httpGet(base+"/agents")) != ""
	})

	k.must("scale", "rc", "jenkins-slave", "--replicas=3")
	waitRunning(t, k, "name=jenkins-slave", 3)

	out, err := exec.Command(env.drover, "--kubeconfig", env.kubeconfig, "rolling-update", "jenkins-slave",
		"--update-period=1s", "--poll-interval=500ms", "--timeout=2m", "-f", "v2/jenkins-slaves-v2.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("rolling-update: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Update succeeded") {
		t.Errorf("rolling-update output:\n%s", out)
	}
	t.Logf("rolling-update:\n%s", out)
	want := 0
	fmt.Sscan(k.must("get", "rc", "jenkins-slave-v2", "-o", "jsonpath={.spec.replicas}"), &want)
	if want < 1 {
		t.Fatalf("jenkins-slave-v2 wants %d replicas", want)
	}
	v2 := waitRunning(t, k, "name=jenkins-slave-v2", want)
	if got := k.must("get", "rc", "-o", "name"); strings.Contains(got, "replicationcontroller/jenkins-slave\n") {
		t.Errorf("old RC still there after the rolling update:\n%s", got)
	}

	// Self-healing: the master pod dies, its RC starts another; JENKINS_HOME survives and
	// the agents find the new master behind the same service address.
	if got := httpPost(base + "/write?data=before-the-crash"); !strings.Contains(got, "written") {
		t.Fatalf("write to the master: %q", got)
	}
	k.must("delete", "pod", master)
	var newMaster string
	uptest.Eventually(t, 90*time.Second, "a new master pod running", func() bool {
		pods := runningPods(k, "name=jenkins")
		if len(pods) == 1 && pods[0] != master {
			newMaster = pods[0]
			return true
		}
		return false
	})
	uptest.Eventually(t, 60*time.Second, "the new master to answer with the old JENKINS_HOME", func() bool {
		return httpGet(base+"/read") == "before-the-crash"
	})
	if got := k.must("get", "svc", "jenkins", "-o", "jsonpath={.spec.clusterIP}"); got != ip {
		t.Errorf("service address changed: %s → %s", ip, got)
	}
	uptest.Eventually(t, 60*time.Second, "the v2 agents registered again with the new master "+newMaster, func() bool {
		return len(strings.Fields(httpGet(base+"/agents"))) >= 1
	})
	t.Logf("master %s replaced by %s; agents %v", master, newMaster, v2)

	// jenkins-slave went with the rolling update; jenkins-slave-v2 is not in the folder.
	k.must("delete", "-f", ".", "--ignore-not-found")
	k.must("delete", "rc", "jenkins-slave-v2")
	uptest.Eventually(t, 60*time.Second, "every pod gone", func() bool { return len(runningPods(k, "")) == 0 })
}

type walkEnv struct {
	drover, kubeconfig string
}

// walkthroughEnv builds the stand-in images and runs `drover up` on its own network, service
// range, DNS address and NodePort range, so it does not meet another drover here.
func walkthroughEnv(t testing.TB) walkEnv {
	t.Helper()
	uptest.CheckDocker(t)
	if out, err := exec.Command("bash", "images/build.sh").CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in images: %v\n%s", err, out)
	}
	if _, err := os.Stat("/home/docker/jenkins"); os.IsNotExist(err) {
		t.Cleanup(func() { _ = os.RemoveAll("/home/docker/jenkins") })
	}
	env := uptest.Start(t, uptest.Options{Name: "walk", Subnet: "10.91.0.0/16", ServiceCIDR: "10.97.0.0/16",
		ClusterDNS: "10.98.0.10", NodePortRange: "31000-31999", NeedKubectl: true,
		Args: []string{"--pod-eviction-timeout", "5m"}})
	return walkEnv{drover: env.Drover, kubeconfig: env.Kubeconfig}
}

// runningPods lists the Running pods with the label selector.
func runningPods(k *kubectl, selector string) []string {
	args := []string{"get", "pods", "-o", "json"}
	if selector != "" {
		args = append(args, "-l", selector)
	}
	out, err := k.run(args...)
	if err != nil {
		return nil
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name              string  `json:"name"`
				DeletionTimestamp *string `json:"deletionTimestamp"`
			} `json:"metadata"`
			Status struct {
				Phase string `json:"phase"`
			} `json:"status"`
		} `json:"items"`
	}
	if json.Unmarshal([]byte(out), &list) != nil {
		return nil
	}
	var names []string
	for _, p := range list.Items {
		if p.Status.Phase == "Running" && p.Metadata.DeletionTimestamp == nil {
			names = append(names, p.Metadata.Name)
		}
	}
	return names
}

func waitRunning(t testing.TB, k *kubectl, selector string, n int) []string {
	t.Helper()
	var pods []string
	uptest.Eventually(t, 90*time.Second, fmt.Sprintf("%d running pods with %s", n, selector), func() bool {
		pods = runningPods(k, selector)
		return len(pods) == n
	})
	return pods
}

var httpc = &http.Client{Timeout: 3 * time.Second}

func httpGet(url string) string {
	resp, err := httpc.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(b)
}

func httpPost(url string) string {
	resp, err := httpc.Post(url, "text/plain", nil)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// BenchmarkDNSLookupFromPod measures cluster DNS as a pod sees it: a pod on `drover up`
// resolves a service name through its resolv.conf (Docker's embedded resolver forwarding to
// drover's cluster DNS), 500 lookups per iteration; p50-ms and p99-ms are reported.
func BenchmarkDNSLookupFromPod(b *testing.B) {
	env := walkthroughEnv(b)
	k := &kubectl{t: b, kubeconfig: env.kubeconfig}
	k.must("create", "-f", "service-vagrant.yml")
	k.must("run", "dnsbench", "--image=drover/testserver:1", "--image-pull-policy=Never", "--labels=app=dnsbench")
	waitRunning(b, k, "app=dnsbench", 1)
	ip := k.must("get", "pod", "dnsbench", "-o", "jsonpath={.status.podIP}")
	var p50, p99 float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := httpGetLong("http://" + ip + ":8080/lookup?name=jenkins&n=500")
		if _, err := fmt.Sscanf(out[strings.Index(out, "p50="):], "p50=%f p99=%f", &p50, &p99); err != nil {
			b.Fatalf("lookup from the pod: %q", out)
		}
	}
	b.StopTimer()
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p99, "p99-ms")
	k.must("delete", "pod", "dnsbench")
	k.must("delete", "svc", "jenkins")
}

func httpGetLong(url string) string {
	c := &http.Client{Timeout: 2 * time.Minute}
	resp, err := c.Get(url)
	if err != nil {
		return err.Error() + " p50="
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b) + " p50="
}
