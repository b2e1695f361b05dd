package render

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/drover-ci/drover/cloud/config"
)

// The Jenkins agent pods drover renders (every mode: inbound TCP, WebSocket, agent injection,
// caches) meet the Pod Security Standard "baseline", as Kubernetes' own evaluator
// (k8s.io/pod-security-admission) judges them, so a namespace labelled
// pod-security.kubernetes.io/enforce=baseline runs them.
func TestAgentPodsMeetBaseline(t *testing.T) {
	eval, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		t.Fatal(err)
	}
	baseline := psapi.LevelVersion{Level: psapi.LevelBaseline, Version: psapi.LatestVersion()}
	ws := docker()
	ws.Mode = config.ModeWebSocket
	inj := docker()
	inj.Name, inj.Image, inj.AgentInjection = "java", "eclipse-temurin:17-jre", true
	inj.Volumes = []corev1.Volume{{Name: "extra", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	injWS := inj
	injWS.Mode = config.ModeWebSocket
	cached := docker()
	cached.Caches = []config.Cache{{Name: "m2", MountPath: "/home/jenkins/.m2", Size: resource.MustParse("5Gi")}}
	for name, tc := range map[string]struct {
		t config.Template
		a Agent
	}{
		"inbound":             {docker(), Agent{Namespace: "ns", Node: "docker-abcde"}},
		"websocket":           {ws, Agent{Namespace: "ns", Node: "docker-abcde"}},
		"injection":           {inj, Agent{Namespace: "ns", Node: "java-abcde"}},
		"injection-websocket": {injWS, Agent{Namespace: "ns", Node: "java-abcde"}},
		"caches":              {cached, Agent{Namespace: "ns", Node: "docker-abcde", Caches: map[string]string{"m2": CacheClaimName("docker", "m2", 0)}}},
	} {
		pod := AgentPod(cfg(tc.t), tc.t, tc.a)
		if r := policy.AggregateCheckResults(eval.EvaluatePod(baseline, &pod.ObjectMeta, &pod.Spec)); !r.Allowed {
			t.Errorf("%s: the agent pod violates baseline: %s", name, r.ForbiddenDetail())
		}
	}

	// The evaluator does refuse what baseline forbids (the check is not vacuous).
	yes := true
	pod := AgentPod(cfg(docker()), docker(), Agent{Namespace: "ns", Node: "docker-abcde"})
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &yes}
	if r := policy.AggregateCheckResults(eval.EvaluatePod(baseline, &pod.ObjectMeta, &pod.Spec)); r.Allowed {
		t.Error("a privileged agent pod passed baseline")
	}
}
