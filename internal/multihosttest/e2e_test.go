package multihosttest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/internal/multihosttest"
	"github.com/drover-ci/drover/internal/uptest"
)

const (
	masterImage = "csanchez/jenkins-swarm:1.625.1-for-volumes"
	agentImage  = "csanchez/jenkins-swarm-slave:2.0-net-tools"
)

// TestThreeHosts runs one drover server and three simulated hosts with host-gw pod networking:
// distinct pod subnets, a pod on host 1 reaching a pod on host 3 by pod IP (without NAT) and by
// service name, a NodePort answering on every host, and the Jenkins-style master with its
// volume on shared storage surviving the loss of its host, its agents reconnecting through
// the service.
func TestThreeHosts(t *testing.T) {
	uptest.CheckDocker(t, "drover/pause:1", "drover/testserver:1")
	// The Jenkins stand-ins are built on the main engine (and copied into each host's).
	if out, err := exec.Command("bash", "../../examples/walkthrough/images/build.sh").CombinedOutput(); err != nil {
		t.Fatalf("build the walkthrough's stand-in images: %v\n%s", err, out)
	}
	c := multihosttest.Start(t, 3, multihosttest.Options{Images: []string{"drover/pause:1", "drover/testserver:1", masterImage, agentImage}})
	// The Lease is renewed every 10 s: a 25 s grace period marks a lost node NotReady quickly
	// without flapping on a busy machine.
	srv := c.StartServer("--node-monitor-grace-period", "25s", "--pod-eviction-timeout", "5s")
	for _, h := range c.Hosts {
		h.StartNode(srv.Kubeconfig)
	}
	c.WaitNodesReady(srv.Client, 90*time.Second)
	cs := srv.Client
	ctx := context.Background()

	cidrs := map[string]string{}
	for _, h := range c.Hosts {
		n, err := cs.CoreV1().Nodes().Get(ctx, h.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := cidrs[n.Spec.PodCIDR]; dup {
			t.Fatalf("nodes %s and %s share pod subnet %s", other, h.Name, n.Spec.PodCIDR)
		}
		cidrs[n.Spec.PodCIDR] = h.Name
		if !strings.HasPrefix(n.Spec.PodCIDR, "10.244.") || !strings.HasSuffix(n.Spec.PodCIDR, ".0/24") {
			t.Errorf("node %s podCIDR %q, want a /24 of 10.244.0.0/16", h.Name, n.Spec.PodCIDR)
		}
		if ip := internalIP(n); ip != h.IP {
			t.Errorf("node %s InternalIP %q, want %s", h.Name, ip, h.IP)
		}
	}
	h1, h3 := c.Hosts[0], c.Hosts[2]

	t.Run("PodToPod", func(t *testing.T) { podNetwork(t, cs, c, h1, h3) })
	if t.Failed() {
		return
	}
	t.Run("MasterSurvivesHostLoss", func(t *testing.T) { failover(t, cs, c) })
}

func podNetwork(t *testing.T, cs kubernetes.Interface, c *multihosttest.Cluster, h1, h3 *multihosttest.Host) {
	ctx := context.Background()
	web := testPod("web", h3.Name, map[string]string{"app": "web"})
	client := testPod("client", h1.Name, map[string]string{"app": "client"})
	client.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 18080}}
	for _, p := range []*corev1.Pod{web, client} {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(8080)}}}}
	svcOut, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	webIP := waitRunning(t, cs, "web", h3.Name)
	waitRunning(t, cs, "client", h1.Name)
	nodePort := waitNodePort(t, cs, svcOut.Name)

	via := fmt.Sprintf("http://%s:18080/get?url=", h1.IP) // the client pod, through its hostPort
	eventually(t, 60*time.Second, "the pod on host 1 fetching /echo from the pod on host 3 by pod IP "+webIP, func() bool {
		body, code, _ := httpDo("GET", via+"http://"+webIP+":8080/echo")
		return code == 200 && strings.Contains(body, "/echo")
	})
	clientIP := podIP(t, cs, "client")
	// No NAT between pods: the pod on host 3 saw the client pod's own address.
	logs, err := h3.Docker("logs", containerOf(t, h3, "web"))
	if err != nil || !strings.Contains(logs, "GET /echo from "+clientIP+":") {
		t.Errorf("web's log does not show a request from the client pod %s (no NAT) (%v):\n%s", clientIP, err, logs)
	}
	eventually(t, 60*time.Second, "the pod on host 1 reaching web by service name", func() bool {
		body, code, _ := httpDo("GET", via+"http://web:8080/echo")
		return code == 200 && strings.Contains(body, "/echo")
	})
	for _, h := range c.Hosts {
		eventually(t, 30*time.Second, fmt.Sprintf("NodePort %d answering on %s (%s)", nodePort, h.Name, h.IP), func() bool {
			body, code, _ := httpDo("GET", fmt.Sprintf("http://%s:%d/healthz", h.IP, nodePort))
			return code == 200 && strings.TrimSpace(body) == "ok"
		})
	}
	for _, p := range []string{"web", "client"} {
		_ = cs.CoreV1().Pods("default").Delete(ctx, p, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	}
	_ = cs.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{})
}

func failover(t *testing.T, cs kubernetes.Interface, c *multihosttest.Cluster) {
	ctx := context.Background()
	home := filepath.Join(c.SharedDir, "jenkins")
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-home"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
		PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: home, Type: ptr(corev1.HostPathDirectoryOrCreate)}},
	}}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-home"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		StorageClassName: ptr(""), VolumeName: "jenkins-home",
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
	if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().PersistentVolumeClaims("default").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "jenkins"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"name": "jenkins"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 8080}, {Name: "slave", Port: 50000}}}}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	httpPort := waitNodePort(t, cs, "jenkins")
	master := rc("jenkins", 1, corev1.PodSpec{
		Containers: []corev1.Container{{Name: "jenkins", Image: masterImage, ImagePullPolicy: corev1.PullNever,
			Ports:        []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 50000}},
			VolumeMounts: []corev1.VolumeMount{{Name: "jenkins-data", MountPath: "/var/jenkins_home"}}}},
		Volumes: []corev1.Volume{{Name: "jenkins-data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "jenkins-home"}}}},
	})
	if _, err := cs.CoreV1().ReplicationControllers("default").Create(ctx, master, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var first corev1.Pod
	eventually(t, 90*time.Second, "the master pod Running", func() bool {
		p, ok := runningPod(cs, "name=jenkins")
		first = p
		return ok
	})
	lost := hostOf(c, first.Spec.NodeName)
	var others []*multihosttest.Host
	for _, h := range c.Hosts {
		if h != lost {
			others = append(others, h)
		}
	}
	t.Logf("master %s runs on %s; agents go to the other hosts", first.Name, lost.Name)
	base := fmt.Sprintf("http://%s:%d", others[0].IP, httpPort)
	eventually(t, 30*time.Second, "writing to the master through the NodePort of another host", func() bool {
		body, code, _ := httpDo("POST", base+"/write?data=before-the-host-loss")
		return code == 200 && strings.Contains(body, "written")
	})
	agents := rc("jenkins-slave", 2, corev1.PodSpec{
		Containers: []corev1.Container{{Name: "jenkins-slave", Image: agentImage, ImagePullPolicy: corev1.PullNever,
			Command: []string{"/usr/local/bin/jenkins-slave.sh", "-master", "http://jenkins:$(JENKINS_SERVICE_PORT_HTTP)",
				"-tunnel", "jenkins:$(JENKINS_SERVICE_PORT_SLAVE)", "-username", "jenkins", "-password", "jenkins", "-executors", "1"}}},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpNotIn, Values: []string{lost.Name}}}}}}}},
	})
	if _, err := cs.CoreV1().ReplicationControllers("default").Create(ctx, agents, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, "two agents registered with the master through the service", func() bool {
		body, code, _ := httpDo("GET", base+"/agents")
		return code == 200 && len(strings.Fields(body)) == 2
	})

	// The master's host is lost: it drops off the network (so no FIN of its dying containers
	// reaches the agents: they must notice by themselves), its node agent and Docker stop.
	lost.Disconnect()
	lost.StopNode()
	lost.StopDocker()
	lostAt := time.Now()
	eventually(t, 60*time.Second, "node "+lost.Name+" NotReady", func() bool {
		n, err := cs.CoreV1().Nodes().Get(ctx, lost.Name, metav1.GetOptions{})
		return err == nil && readyStatus(n) != corev1.ConditionTrue
	})
	t.Logf("node %s NotReady after %s", lost.Name, time.Since(lostAt).Round(time.Second))
	var second corev1.Pod
	eventually(t, 120*time.Second, "a new master pod Running on another host", func() bool {
		p, ok := runningPod(cs, "name=jenkins")
		second = p
		return ok && p.Name != first.Name && p.Spec.NodeName != lost.Name
	})
	t.Logf("master %s Running on %s %s after the host loss", second.Name, second.Spec.NodeName, time.Since(lostAt).Round(time.Second))
	eventually(t, 60*time.Second, "the new master serving the data written before the loss", func() bool {
		body, code, _ := httpDo("GET", base+"/read")
		return code == 200 && body == "before-the-host-loss"
	})
	if b, err := os.ReadFile(filepath.Join(home, "starts")); err != nil || strings.TrimSpace(string(b)) != "2" {
		t.Errorf("JENKINS_HOME/starts on the shared storage = %q, %v; want 2 (one start per master pod)", b, err)
	}
	eventually(t, 90*time.Second, "both agents registered again with the new master through the service", func() bool {
		body, code, _ := httpDo("GET", base+"/agents")
		return code == 200 && len(strings.Fields(body)) == 2
	})
	t.Logf("agents reconnected %s after the host loss", time.Since(lostAt).Round(time.Second))
}

func testPod(name, node string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.PodSpec{
		NodeSelector:                  map[string]string{"kubernetes.io/hostname": node},
		TerminationGracePeriodSeconds: new(int64),
		Containers: []corev1.Container{{Name: "app", Image: "drover/testserver:1", ImagePullPolicy: corev1.PullNever,
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
	}}
}

func rc(name string, replicas int32, spec corev1.PodSpec) *corev1.ReplicationController {
	labels := map[string]string{"name": name}
	spec.TerminationGracePeriodSeconds = new(int64)
	return &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.ReplicationControllerSpec{Replicas: &replicas, Selector: labels,
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}}}
}

func waitRunning(t *testing.T, cs kubernetes.Interface, name, node string) string {
	t.Helper()
	var ip string
	eventually(t, 90*time.Second, "pod "+name+" Running on "+node, func() bool {
		p, err := cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			return false
		}
		if p.Spec.NodeName != node {
			t.Fatalf("pod %s on %s, want %s", name, p.Spec.NodeName, node)
		}
		ip = p.Status.PodIP
		return true
	})
	return ip
}

func podIP(t *testing.T, cs kubernetes.Interface, name string) string {
	p, err := cs.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Status.PodIP
}

// containerOf is the app container of pod name on host h.
func containerOf(t *testing.T, h *multihosttest.Host, pod string) string {
	t.Helper()
	out, err := h.Docker("ps", "-q", "--filter", "label=drover.io/pod-name="+pod, "--filter", "label=drover.io/container-name=app")
	if err != nil || out == "" {
		t.Fatalf("no app container of pod %s on %s: %v %s", pod, h.Name, err, out)
	}
	return strings.Fields(out)[0]
}

func runningPod(cs kubernetes.Interface, selector string) (corev1.Pod, bool) {
	pods, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return corev1.Pod{}, false
	}
	var running []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			running = append(running, p)
		}
	}
	if len(running) != 1 {
		return corev1.Pod{}, false
	}
	return running[0], true
}

func hostOf(c *multihosttest.Cluster, node string) *multihosttest.Host {
	for _, h := range c.Hosts {
		if h.Name == node {
			return h
		}
	}
	panic("no host " + node)
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

func readyStatus(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// lastHTTP is the last answer httpDo got (for failure messages).
var lastHTTP string

func httpDo(method, url string) (body string, code int, err error) {
	defer func() { lastHTTP = fmt.Sprintf("%s %s: %d %q %v", method, url, code, body, err) }()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

func ptr[T any](v T) *T { return &v }

// eventually polls cond every 250 ms, failing after d with the last HTTP answer.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last HTTP answer: %s)", d, what, lastHTTP)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitNodePort waits for the serviceip controller to give the Service's first port a NodePort.
func waitNodePort(t *testing.T, cs kubernetes.Interface, name string) int32 {
	t.Helper()
	var port int32
	eventually(t, 30*time.Second, "a NodePort for service "+name, func() bool {
		s, err := cs.CoreV1().Services("default").Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && len(s.Spec.Ports) > 0 {
			port = s.Spec.Ports[0].NodePort
		}
		return port != 0
	})
	return port
}
