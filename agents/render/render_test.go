package render

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/drover-ci/drover/cloud/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// golden compares obj as YAML with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name string, obj any) {
	t.Helper()
	got, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-golden +got; go test -update rewrites):\n%s", p, d)
	}
}

func cfg(ts ...config.Template) *config.Config {
	c := &config.Config{URL: "http://jenkins.internal:8080", JenkinsURL: "http://10.60.0.1:8080/",
		JenkinsTunnel: "10.60.0.1:50000", Templates: ts}
	c.Default()
	return c
}

func docker() config.Template {
	return config.Template{Name: "docker", Label: "docker linux", Image: "jenkins/inbound-agent:latest",
		Env: []corev1.EnvVar{{Name: "JENKINS_URL", Value: "ignored"}, {Name: "JENKINS_TUNNEL", Value: "x:1"}, {Name: "A", Value: "b"}}}
}

func TestAgentPodGolden(t *testing.T) {
	ws := docker()
	ws.Mode = config.ModeWebSocket
	wsFlag := docker()
	wsFlag.WebSocket = true
	inj := docker()
	inj.Name, inj.Image, inj.AgentInjection = "java", "eclipse-temurin:17-jre", true
	inj.Volumes = []corev1.Volume{{Name: "extra", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	injWS := inj
	injWS.Mode = config.ModeWebSocket
	cached := docker()
	cached.Caches = []config.Cache{{Name: "m2", MountPath: "/home/jenkins/.m2", Size: resource.MustParse("5Gi")},
		{Name: "gradle", MountPath: "/home/jenkins/.gradle", Size: resource.MustParse("1Gi")}}
	for _, tc := range []struct {
		name string
		t    config.Template
		a    Agent
	}{
		{"inbound", docker(), Agent{Namespace: "ns", Node: "docker-abcde", QueueItem: 7}},
		{"websocket", ws, Agent{Namespace: "ns", Node: "docker-abcde"}},
		{"injection", inj, Agent{Namespace: "ns", Node: "java-abcde", QueueItem: 9,
			Annotations: map[string]string{"drover.io/jenkins-created-at": "2026-12-06T10:00:00Z"}}},
		{"injection-websocket", injWS, Agent{Namespace: "ns", Node: "java-abcde"}},
		{"caches", cached, Agent{Namespace: "ns", Node: "docker-abcde", QueueItem: 3,
			Caches: map[string]string{"m2": CacheClaimName("docker", "m2", 0), "gradle": CacheClaimName("docker", "gradle", 2)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, "pod-"+tc.name, AgentPod(cfg(tc.t), tc.t, tc.a))
		})
	}
	// webSocket: true on the template renders as mode websocket does.
	a := AgentPod(cfg(ws), ws, Agent{Namespace: "ns", Node: "n"})
	b := AgentPod(cfg(wsFlag), wsFlag, Agent{Namespace: "ns", Node: "n"})
	if d := cmp.Diff(a.Spec, b.Spec); d != "" {
		t.Errorf("webSocket: true differs from mode websocket:\n%s", d)
	}
}

// TestWebSocketNeverTunnels: no WebSocket agent gets -tunnel or JENKINS_TUNNEL,
// whichever way WebSocket is asked for (remoting refuses the pair and exits 0).
func TestWebSocketNeverTunnels(t *testing.T) {
	for _, mut := range []func(*config.Config, *config.Template){
		func(_ *config.Config, t *config.Template) { t.Mode = config.ModeWebSocket },
		func(_ *config.Config, t *config.Template) { t.WebSocket = true },
		func(c *config.Config, _ *config.Template) { c.WebSocket = true },
	} {
		for _, injection := range []bool{false, true} {
			tp := docker()
			tp.AgentInjection = injection
			c := cfg()
			mut(c, &tp)
			pod := AgentPod(c, tp, Agent{Namespace: "ns", Node: "n"})
			ctr := pod.Spec.Containers[0]
			for _, e := range ctr.Env {
				if e.Name == "JENKINS_TUNNEL" {
					t.Errorf("websocket agent (injection %v) has JENKINS_TUNNEL=%s", injection, e.Value)
				}
			}
			if strings.Contains(strings.Join(ctr.Command, " "), "-tunnel") {
				t.Errorf("websocket agent command %q", ctr.Command)
			}
			// An injected agent takes -webSocket from its node's jnlp file (agent.jar -jnlpUrl).
		}
	}
	// An inbound TCP agent keeps the tunnel.
	tp := docker()
	tp.AgentInjection = true
	ctr := AgentPod(cfg(), tp, Agent{Namespace: "ns", Node: "n"}).Spec.Containers[0]
	if !strings.Contains(strings.Join(ctr.Command, " "), "-tunnel $(JENKINS_TUNNEL)") {
		t.Errorf("inbound command %q lacks the tunnel", ctr.Command)
	}
}

func TestSwarmGolden(t *testing.T) {
	s := config.Template{Name: "swarm", Label: "swarm", Mode: config.ModeSwarm, Image: "swarm:1",
		Command: []string{"swarm-client"}, Args: []string{"-url", "$(JENKINS_URL)"},
		Volumes: []corev1.Volume{{Name: "workspace", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}}
	golden(t, "swarm", SwarmController(cfg(s), s, "ns", 3))
}

func TestCacheGolden(t *testing.T) {
	tp := docker()
	c := config.Cache{Name: "m2", MountPath: "/home/jenkins/.m2", Size: resource.MustParse("5Gi")}
	golden(t, "cache-volume", CacheVolume(cfg(tp), tp, c, "ns", 1))
	golden(t, "cache-claim", CacheClaim(tp, c, "ns", 1))
}

func TestSwarmReplicas(t *testing.T) {
	for _, tc := range []struct{ cap, minIdle, busy, queued, want int }{
		{0, 0, 0, 0, 0}, {0, 2, 0, 0, 2}, {0, 0, 1, 3, 4}, {3, 0, 1, 5, 3}, {3, 1, 0, 0, 1},
	} {
		if got := SwarmReplicas(config.Template{InstanceCap: tc.cap}, tc.minIdle, tc.busy, tc.queued); got != tc.want {
			t.Errorf("SwarmReplicas(%+v) = %d", tc, got)
		}
	}
}

func TestCacheIndex(t *testing.T) {
	for _, tc := range []struct {
		claim string
		want  int
	}{
		{CacheClaimName("docker", "m2", 0), 0}, {CacheClaimName("docker", "m2", 12), 12},
		{"jenkins-cache-docker-m2-", -1}, {"jenkins-cache-docker-m2-01", -1}, {"jenkins-cache-docker-m2x-1", -1},
		{CacheClaimName("docker-m2", "x", 1), -1},
	} {
		if got := CacheIndex("docker", "m2", tc.claim); got != tc.want {
			t.Errorf("CacheIndex(%q) = %d, want %d", tc.claim, got, tc.want)
		}
	}
}

// TestAgentIdentity: agent pods and swarm pods run as the namespace's default ServiceAccount
// with automountServiceAccountToken false (a build gets no API credential), unless the
// template names a ServiceAccount or asks for the token.
func TestAgentIdentity(t *testing.T) {
	check := func(name string, spec corev1.PodSpec, sa string, automount bool) {
		t.Helper()
		if spec.ServiceAccountName != sa {
			t.Errorf("%s: serviceAccountName %q, want %q", name, spec.ServiceAccountName, sa)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken != automount {
			t.Errorf("%s: automountServiceAccountToken %v, want %v", name, spec.AutomountServiceAccountToken, automount)
		}
	}
	plain := docker()
	check("default template", AgentPod(cfg(plain), plain, Agent{Namespace: "ns", Node: "n"}).Spec, "default", false)
	asks := docker()
	asks.ServiceAccount, asks.AutomountServiceAccountToken = "deployer", true
	check("template asking", AgentPod(cfg(asks), asks, Agent{Namespace: "ns", Node: "n"}).Spec, "deployer", true)
	named := docker()
	named.ServiceAccount = "deployer"
	check("named, no token", AgentPod(cfg(named), named, Agent{Namespace: "ns", Node: "n"}).Spec, "deployer", false)
	swarm := config.Template{Name: "swarm", Mode: config.ModeSwarm, Image: "swarm:1"}
	check("swarm", SwarmController(cfg(swarm), swarm, "ns", 1).Spec.Template.Spec, "default", false)
	swarm.AutomountServiceAccountToken = true
	check("swarm asking", SwarmController(cfg(swarm), swarm, "ns", 1).Spec.Template.Spec, "default", true)
}
