// Package e2e_test runs the Jenkins cloud on a real Docker engine: `drover up` with a jenkins
// section in its configuration file, the fake Jenkins 2.376 (cloud/jenkins/jenkinstest) on this
// host, and agent pods of the test agent image (agents/testagent) that connect to it the way
// jenkins/inbound-agent does and run the builds.
package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
	"github.com/drover-ci/drover/cloud/provider"
	"github.com/drover-ci/drover/internal/uptest"
)

const (
	agentImage = "drover/jenkins-agent-test:1"
	token      = "11e2e0c0ffee0123456789abcdef0123"
	tokenEnv   = "DROVER_E2E_JENKINS_TOKEN"
)

// cloudEnv is drover up with a Jenkins cloud configured against a fake Jenkins on this host.
type cloudEnv struct {
	up   *uptest.Env
	fake *jenkinstest.Server
	api  jenkinsAPI
}

// startCloud starts the fake Jenkins on all addresses (agents reach it through their bridge's
// gateway, the host) and drover up on subnet 10.NET.0.0/16 with templates (YAML list items);
// top are more top-level lines of the jenkins section (%[1]d in them is NET, %[2]d the fake's
// agent port).
func startCloud(t testing.TB, name string, net int, ports string, templates string, top ...string) *cloudEnv {
	t.Helper()
	uptest.CheckDocker(t, agentImage)
	fake, err := jenkinstest.Start(jenkinstest.Options{Addr: "0.0.0.0:0", AutoStart: true,
		Users: []jenkinstest.User{{Name: "drover", Token: token}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	u, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	extra := ""
	for _, l := range top {
		if strings.Contains(l, "%") {
			l = fmt.Sprintf(l, net, fake.AgentPort())
		}
		extra += l + "\n"
	}
	cfg := writeConfig(t, fmt.Sprintf(`url: http://127.0.0.1:%s
credentials: {user: drover, tokenEnv: %s}
jenkinsUrl: http://10.%d.0.1:%s/
namespace: default
%stemplates:
%s`, u.Port(), tokenEnv, net, u.Port(), extra, templates))
	up := uptest.Start(t, uptest.Options{Name: name, Subnet: fmt.Sprintf("10.%d.0.0/16", net),
		ServiceCIDR: fmt.Sprintf("10.%d.0.0/16", net+10), ClusterDNS: fmt.Sprintf("10.%d.0.10", net+20),
		NodePortRange: ports, Args: []string{"--config", cfg}, Env: []string{tokenEnv + "=" + token}})
	return &cloudEnv{up: up, fake: fake, api: jenkinsAPI{url: fake.URL(), user: "drover", token: token}}
}

// createNodes counts the node creations Jenkins has served.
func (e *cloudEnv) createNodes() int {
	n := 0
	for _, r := range e.fake.Requests() {
		if r == "POST /computer/doCreateItem" {
			n++
		}
	}
	return n
}

// nodesWithPrefix lists the Jenkins agent nodes named prefix*.
func (e *cloudEnv) nodesWithPrefix(prefix string) []string {
	names, _, _ := e.api.computers()
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// TestJenkinsCloudOnDocker: builds queued on a label get one-shot agent pods that connect and
// run them, then go; an agent killed mid-build leaves nothing behind; drover killed and
// restarted while agents start ends with exactly the agents needed; a template whose image
// cannot be pulled backs off with the pull error as reason and a bounded number of pods.
func TestJenkinsCloudOnDocker(t *testing.T) {
	e := startCloud(t, "jcloud", 60, "32200-32399", `- name: docker
  label: docker linux
  image: `+agentImage+`
  idleMinutes: 0
  instanceCap: 8
- name: broken
  label: broken
  image: drover/no-such-image:1
  instanceCap: 3
- name: inject
  label: inject
  image: `+agentImage+`
  agentInjection: true
- name: swarm
  label: swarm
  mode: swarm
  image: `+agentImage+`
  command: [swarm-client]
  args: [-url, $(JENKINS_URL), -labels, swarm, -executors, "1", -username, drover,
    -passwordEnvVariable, SWARM_TOKEN, -fsroot, /home/jenkins/agent, -disableClientsUniqueId]
  env: [{name: SWARM_TOKEN, value: `+token+`}]
  instanceCap: 2
- name: capped
  label: capped
  image: `+agentImage+`
- name: ws
  label: ws
  mode: websocket
  image: `+agentImage+`
- name: cached
  label: cached
  image: `+agentImage+`
  caches: [{name: m2, mountPath: /home/jenkins/.m2, size: 1Gi}]
`, "containerCap: 5", "jenkinsTunnel: 10.%[1]d.0.1:%[2]d", "cacheRoot: "+t.TempDir())
	cs := e.up.Client

	t.Run("five builds, five one-shot agents", func(t *testing.T) {
		e.api.createJob(t, "five", "docker", "sleep 3")
		for range 5 {
			e.api.build(t, "five")
		}
		seen := map[string]bool{}
		most := 0
		uptest.Eventually(t, 90*time.Second, "5 agents connected", func() bool {
			pods := agentPods(t, cs, "default", "docker")
			most = max(most, len(pods))
			for _, p := range pods {
				seen[p.Name] = true
			}
			_, online, _ := e.api.computers()
			return online >= 5 || len(seen) >= 5 && e.api.queueLen() == 0
		})
		// No secret in any pod spec: it comes from the agent's Secret.
		for _, p := range agentPods(t, cs, "default", "docker") {
			b, _ := json.Marshal(p)
			if s := e.fake.Secret(p.Name); strings.Contains(string(b), s) {
				t.Errorf("pod %s carries its agent secret in its spec", p.Name)
			}
		}
		builds := waitBuilds(t, e.api, "five", 5, 90*time.Second)
		on := map[string]bool{}
		for i, b := range builds {
			if b.Result != "SUCCESS" {
				t.Errorf("five #%d: %s on %s", i+1, b.Result, b.BuiltOn)
			}
			on[b.BuiltOn] = true
		}
		if len(on) != 5 {
			t.Errorf("5 builds ran on %d agents %v, want 5 one-shot agents", len(on), on)
		}
		uptest.Eventually(t, 60*time.Second, "one-shot agents and their nodes gone", func() bool {
			return len(agentPods(t, cs, "default", "docker")) == 0 && len(e.nodesWithPrefix("docker-")) == 0
		})
		if most > 5 || len(seen) > 5 {
			t.Errorf("%d agent pods at most at once, %d in all, for 5 builds", most, len(seen))
		}
	})

	t.Run("three builds, exactly three agents", func(t *testing.T) { exactAgents(t, e) })
	t.Run("twenty builds, containerCap 5", func(t *testing.T) { cappedAgents(t, e) })
	t.Run("websocket template with jenkinsTunnel set", func(t *testing.T) { webSocketWithTunnel(t, e) })
	t.Run("sticky caches", func(t *testing.T) { stickyCaches(t, e) })

	t.Run("agent killed mid-build", func(t *testing.T) {
		e.api.createJob(t, "long", "docker", "sleep 8")
		e.api.build(t, "long")
		var node string
		uptest.Eventually(t, 90*time.Second, "build long #1 running", func() bool {
			b, ok := e.api.buildInfo("long", 1)
			node = b.BuiltOn
			return ok && b.Building && node != ""
		})
		time.Sleep(2 * time.Second) // drover sees it busy and remembers the build on the pod
		id := agentContainer(t, node)
		if id == "" {
			t.Fatalf("no agent container for %s", node)
		}
		if out, err := exec.Command("docker", "kill", id).CombinedOutput(); err != nil {
			t.Fatalf("docker kill: %v %s", err, out)
		}
		b := waitBuilds(t, e.api, "long", 2, 120*time.Second)
		if b[0].Result != "FAILURE" {
			t.Errorf("long #1 ended %s, want FAILURE (its agent died)", b[0].Result)
		}
		if b[1].Result != "SUCCESS" || b[1].BuiltOn == node {
			t.Errorf("long #2 (the requeue) ended %s on %s, want SUCCESS on another agent", b[1].Result, b[1].BuiltOn)
		}
		uptest.Eventually(t, 60*time.Second, "the dead agent's pod and node gone", func() bool {
			_, err := cs.CoreV1().Pods("default").Get(context.Background(), node, metav1.GetOptions{})
			return err != nil && len(e.nodesWithPrefix(node)) == 0
		})
		time.Sleep(3 * time.Second)
		if _, ok := e.api.buildInfo("long", 3); ok {
			t.Errorf("long #3 exists: the build was requeued more than once")
		}
		ev := strings.Join(events(t, cs), "\n")
		if !strings.Contains(ev, "AgentLost: Jenkins agent "+node) || !strings.Contains(ev, "BuildRequeued:") {
			t.Errorf("no AgentLost and BuildRequeued events for %s:\n%s", node, ev)
		}
		m := metrics(t, cs)
		if !strings.Contains(m, `drover_jenkins_agents_lost_total{reason="Killed",template="docker"} 1`) ||
			!strings.Contains(m, `drover_jenkins_builds_requeued_total{reason="Killed",template="docker"} 1`) {
			t.Errorf("lost/requeued metrics missing:\n%s", grepLines(m, "drover_jenkins_agents_lost", "drover_jenkins_builds_requeued"))
		}
		if st, ok := status(cs, "default"); !ok || len(st.Requeues) != 1 || st.Requeues[0].State != "requeued" {
			t.Errorf("status requeues %+v", st.Requeues)
		}
	})

	t.Run("a build that exits 1 is not requeued", func(t *testing.T) {
		// (A build of a few ms may end before drover ever sees its agent busy:
		// that one-shot agent then stays idle up to a minute.)
		e.api.createJob(t, "fails", "docker", "sleep 2; exit 1")
		e.api.build(t, "fails")
		if b := waitBuilds(t, e.api, "fails", 1, 90*time.Second)[0]; b.Result != "FAILURE" {
			t.Fatalf("fails #1 ended %s", b.Result)
		}
		time.Sleep(provider.LostGrace + 3*time.Second) // LostGrace and a few polls
		if _, ok := e.api.buildInfo("fails", 2); ok {
			t.Errorf("fails #2 exists: a build that failed by itself was requeued")
		}
		uptest.Eventually(t, 60*time.Second, "the failed build's agent gone", func() bool {
			return len(agentPods(t, cs, "default", "docker")) == 0
		})
	})

	t.Run("drover restarted while agents start", func(t *testing.T) {
		e.api.createJob(t, "restart", "docker", "sleep 5")
		before := e.createNodes()
		for range 3 {
			e.api.build(t, "restart")
		}
		uptest.Eventually(t, 60*time.Second, "3 agent pods created", func() bool {
			return len(agentPods(t, cs, "default", "docker")) >= 3
		})
		e.up.Kill()
		e.up.Restart()
		cs = e.up.Client
		builds := waitBuilds(t, e.api, "restart", 3, 120*time.Second)
		for i, b := range builds {
			if b.Result != "SUCCESS" {
				t.Errorf("restart #%d: %s", i+1, b.Result)
			}
		}
		uptest.Eventually(t, 90*time.Second, "agents gone after the builds", func() bool {
			return len(agentPods(t, cs, "default", "docker")) == 0 && len(e.nodesWithPrefix("docker-")) == 0
		})
		if n := e.createNodes() - before; n != 3 {
			t.Errorf("%d Jenkins nodes created for 3 builds across a drover restart, want exactly 3 (builds %+v)\n%s", n, builds, logGrep(e.up.Log, "jenkins-cloud"))
		}
	})

	t.Run("agent injection", func(t *testing.T) {
		// The image has no agent: an init container of drover's tools image fetches the
		// controller's /jnlpJars/agent.jar, and `java -cp agent.jar …` runs it.
		e.api.createJob(t, "injected", "inject", "echo injected")
		e.api.build(t, "injected")
		var pod string
		uptest.Eventually(t, 60*time.Second, "an inject agent pod", func() bool {
			for _, p := range agentPods(t, cs, "default", "inject") {
				pod = p.Name
				if len(p.Spec.InitContainers) != 1 || p.Spec.InitContainers[0].Image != "drover/tools:1" {
					t.Fatalf("inject pod %s init containers %+v, want one of drover/tools:1", p.Name, p.Spec.InitContainers)
				}
				return true
			}
			return false
		})
		b := waitBuilds(t, e.api, "injected", 1, 120*time.Second)[0]
		if b.Result != "SUCCESS" || !strings.HasPrefix(b.BuiltOn, "inject-") {
			t.Fatalf("injected #1: %s on %q (pod %s)", b.Result, b.BuiltOn, pod)
		}
		// The agent read its secret from the Secret's volume (-secret @FILE): docker inspect
		// (command, arguments, environment) of its containers holds no secret.
		secret := e.fake.Secret(pod)
		ids, err := exec.Command("docker", "ps", "-aq", "--filter", "label=drover.io/pod-name="+pod).Output()
		if err != nil || len(strings.Fields(string(ids))) == 0 {
			t.Fatalf("containers of pod %s: %v", pod, err)
		}
		for _, id := range strings.Fields(string(ids)) {
			out, err := exec.Command("docker", "inspect", id).Output()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), secret) {
				t.Errorf("docker inspect of pod %s's container %s shows the agent secret", pod, id)
			}
		}
	})

	t.Run("swarm template scales its RC", func(t *testing.T) {
		e.api.createJob(t, "swarmed", "swarm", "echo swarm")
		e.api.build(t, "swarmed")
		b := waitBuilds(t, e.api, "swarmed", 1, 120*time.Second)[0]
		if b.Result != "SUCCESS" || !strings.HasPrefix(b.BuiltOn, "jenkins-swarm-swarm-") {
			t.Fatalf("swarmed #1: %s on %q, want SUCCESS on a swarm client of RC jenkins-swarm-swarm", b.Result, b.BuiltOn)
		}
		uptest.Eventually(t, 60*time.Second, "the swarm RC back to 0 replicas once the queue is empty", func() bool {
			rc, err := cs.CoreV1().ReplicationControllers("default").Get(context.Background(), "jenkins-swarm-swarm", metav1.GetOptions{})
			return err == nil && rc.Spec.Replicas != nil && *rc.Spec.Replicas == 0
		})
	})

	t.Run("missing image backs off", func(t *testing.T) {
		before := e.createNodes()
		e.api.createJob(t, "nope", "broken", "true")
		e.api.build(t, "nope")
		var st struct {
			reason, backoff string
		}
		uptest.Eventually(t, 120*time.Second, "a pull failure recorded and the template backing off", func() bool {
			s, ok := status(cs, "default")
			if !ok {
				return false
			}
			st.reason = ""
			for _, f := range s.Failures {
				if f.Template == "broken" {
					st.reason = f.Reason + ": " + f.Message
				}
			}
			for _, ts := range s.Templates {
				if ts.Name == "broken" && ts.BackoffUntil != nil {
					st.backoff = ts.BackoffReason
				}
			}
			return st.reason != "" && st.backoff != ""
		})
		if !strings.Contains(st.reason, "ErrImagePull") && !strings.Contains(st.reason, "ImagePullBackOff") {
			t.Errorf("failure reason %q, want the pull error", st.reason)
		}
		// Watch it for a while: the back-off bounds how many pods it creates.
		time.Sleep(45 * time.Second)
		if n := e.createNodes() - before; n > 5 {
			t.Errorf("%d agents created for one build whose image cannot be pulled in ~1 min, want a bounded few (back-off)", n)
		}
	})
}

// TestWarmPoolOnDocker: minIdle 2 keeps two connected idle agents, and no more.
func TestWarmPoolOnDocker(t *testing.T) {
	e := startCloud(t, "jwarm", 61, "32400-32599", `- name: warm
  label: warm
  image: `+agentImage+`
  minIdle: 2
  idleMinutes: 30
`)
	uptest.Eventually(t, 90*time.Second, "two connected idle agents", func() bool {
		_, online, _ := e.api.computers()
		return online == 2
	})
	time.Sleep(10 * time.Second)
	names, online, _ := e.api.computers()
	if len(names) != 2 || online != 2 {
		t.Errorf("after 10 s: nodes %v (%d online), want 2 connected idle agents", names, online)
	}
	if pods := agentPods(t, e.up.Client, "default", "warm"); len(pods) != 2 {
		t.Errorf("%d warm agent pods, want 2", len(pods))
	}
}
