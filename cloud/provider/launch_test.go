package provider

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
)

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

func TestFiveQueuedBuildsFiveAgents(t *testing.T) {
	cfg := oneTemplate(docker("docker"))
	cfg.JenkinsURL = "http://jenkins:8080/"
	cfg.JenkinsTunnel = "jenkins-agent:50000"
	f := newFixture(t, cfg)
	f.queue("build", "docker", 5)
	f.sync()
	pods := f.pods()
	if len(pods) != 5 {
		t.Fatalf("pods = %d, want 5", len(pods))
	}
	nodes := f.nodes()
	if len(nodes) != 5 {
		t.Fatalf("nodes = %v, want 5", nodes)
	}
	nameRE := regexp.MustCompile(`^docker-[a-z0-9]{5}$`)
	items := map[string]bool{}
	for _, p := range pods {
		if !nameRE.MatchString(p.Name) {
			t.Errorf("pod name %q", p.Name)
		}
		n, ok := f.jk.Node(p.Name)
		if !ok {
			t.Fatalf("no Jenkins node for pod %s", p.Name)
		}
		if n.Executors != 1 || n.RemoteFS != config.DefaultRemoteFS || strings.Join(n.Labels, " ") != "docker linux" ||
			n.Mode != "EXCLUSIVE" || !strings.Contains(n.Description, "drover") || !strings.Contains(n.Description, "docker") {
			t.Errorf("node %+v", n)
		}
		if p.Labels[render.LabelAgent] != p.Name || p.Labels[render.LabelTemplate] != "docker" || p.Labels[render.LabelQueueItem] == "" {
			t.Errorf("pod %s labels %v", p.Name, p.Labels)
		}
		items[p.Labels[render.LabelQueueItem]] = true
		if p.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("restartPolicy %s", p.Spec.RestartPolicy)
		}
		env := envOf(p.Spec.Containers[0])
		for k, want := range map[string]string{"JENKINS_URL": "http://jenkins:8080/", "JENKINS_AGENT_NAME": p.Name,
			"JENKINS_AGENT_WORKDIR": config.DefaultRemoteFS, "JENKINS_TUNNEL": "jenkins-agent:50000"} {
			if env[k].Value != want {
				t.Errorf("%s: env %s = %q, want %q", p.Name, k, env[k].Value, want)
			}
		}
		if _, ok := env["JENKINS_WEB_SOCKET"]; ok {
			t.Errorf("inbound mode has JENKINS_WEB_SOCKET")
		}
		if env["JENKINS_SECRET"].Value != "@"+render.SecretFile {
			t.Errorf("JENKINS_SECRET = %+v, want the @FILE of the Secret's volume", env["JENKINS_SECRET"])
		}
		secretVolume := false
		for _, v := range p.Spec.Volumes {
			secretVolume = secretVolume || (v.Name == render.SecretVolume && v.Secret != nil && v.Secret.SecretName == p.Name)
		}
		if !secretVolume {
			t.Errorf("%s: no volume of its Secret %s", p.Name, p.Name)
		}
		js, _ := json.Marshal(p)
		secret := f.jk.Secret(p.Name)
		if strings.Contains(string(js), secret) {
			t.Errorf("pod %s spec contains the agent secret", p.Name)
		}
		s, err := f.kube.CoreV1().Secrets("default").Get(f.ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(s.Data[render.SecretKey]) != secret {
			t.Errorf("secret %s holds the wrong value", p.Name)
		}
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != p.UID || s.Labels[render.LabelAgent] != p.Name {
			t.Errorf("secret %s owners %+v labels %v", p.Name, s.OwnerReferences, s.Labels)
		}
		mounted := false
		for _, m := range p.Spec.Containers[0].VolumeMounts {
			mounted = mounted || (m.Name == render.WorkspaceVolume && m.MountPath == config.DefaultRemoteFS)
		}
		if !mounted {
			t.Errorf("no workspace at remoteFS: %+v", p.Spec.Containers[0].VolumeMounts)
		}
	}
	if len(items) != 5 {
		t.Errorf("queue item labels %v, want 5 distinct", items)
	}
	// Nothing more on the next polls: the demand is covered.
	f.sync()
	f.sync()
	if n := len(f.pods()); n != 5 {
		t.Errorf("after more polls: %d pods", n)
	}
	st := f.p.Status()
	if len(st.Templates) != 1 || st.Templates[0].Pending != 5 || st.Templates[0].Demand != 5 || len(st.Agents) != 5 || len(st.Queue) != 5 {
		t.Errorf("status %+v", st)
	}
	for _, q := range st.Queue {
		if q.Template != "docker" || q.Waiting != "" {
			t.Errorf("queue status %+v", q)
		}
	}
}
