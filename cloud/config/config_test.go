package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const full = `
url: http://jenkins:8080
credentials: {user: admin, tokenFile: /run/secrets/token}
jenkinsUrl: http://jenkins.default.svc:8080
jenkinsTunnel: jenkins-agent:50000
webSocket: true
connectTimeout: 5s
readTimeout: 15s
containerCap: 10
namespace: ci
templates:
- name: docker
  label: docker linux
  image: jenkins/inbound-agent:latest
  command: [sh, -c]
  args: [run]
  instanceCap: 5
  idleMinutes: 10
  minIdle: 1
  warmSchedules:
  - {cron: "0 8 * * 1-5", duration: 10h, minIdle: 3}
  resources:
    limits: {cpu: "1", memory: 1Gi}
  env: [{name: FOO, value: bar}]
  volumes: [{name: ws, emptyDir: {}}]
  nodeSelector: {disk: ssd}
  pendingTimeout: 2m
  mode: websocket
  agentInjection: true
  serviceAccount: builder
  automountServiceAccountToken: true
`

func TestLoadFull(t *testing.T) {
	c, err := Load([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := &Config{
		URL:            "http://jenkins:8080",
		Credentials:    Credentials{User: "admin", TokenFile: "/run/secrets/token"},
		JenkinsURL:     "http://jenkins.default.svc:8080",
		JenkinsTunnel:  "jenkins-agent:50000",
		WebSocket:      true,
		ConnectTimeout: metav1.Duration{Duration: 5 * time.Second},
		ReadTimeout:    metav1.Duration{Duration: 15 * time.Second},
		ContainerCap:   10,
		Namespace:      "ci",
		PollInterval:   metav1.Duration{Duration: time.Second},
		Templates: []Template{{
			Name: "docker", Label: "docker linux", Image: "jenkins/inbound-agent:latest",
			Command: []string{"sh", "-c"}, Args: []string{"run"}, RemoteFS: DefaultRemoteFS,
			InstanceCap: 5, IdleMinutes: 10, MinIdle: 1,
			WarmSchedules: []WarmSchedule{{Cron: "0 8 * * 1-5", Duration: metav1.Duration{Duration: 10 * time.Hour}, MinIdle: 3}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}},
			Env:            []corev1.EnvVar{{Name: "FOO", Value: "bar"}},
			Volumes:        []corev1.Volume{{Name: "ws", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			NodeSelector:   map[string]string{"disk": "ssd"},
			PendingTimeout: metav1.Duration{Duration: 2 * time.Minute},
			Mode:           ModeWebSocket, AgentInjection: true,
			ServiceAccount: "builder", AutomountServiceAccountToken: true,
		}},
	}
	if d := cmp.Diff(want, c, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); d != "" {
		t.Errorf("Load (-want +got):\n%s", d)
	}
	if got := c.Templates[0].Labels(); !cmp.Equal(got, []string{"docker", "linux"}) {
		t.Errorf("Labels() = %q", got)
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load([]byte("url: https://j\ntemplates: [{name: a, image: i}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.PollInterval.Duration != time.Second {
		t.Errorf("pollInterval = %v, want 1s", c.PollInterval.Duration)
	}
	tp := c.Templates[0]
	if tp.RemoteFS != "/home/jenkins/agent" || tp.Mode != ModeInbound || tp.IdleMinutes != 0 {
		t.Errorf("template defaults = remoteFS %q mode %q idleMinutes %d", tp.RemoteFS, tp.Mode, tp.IdleMinutes)
	}
	c, err = Load([]byte("url: https://j\npollInterval: 250ms\n"))
	if err != nil || c.PollInterval.Duration != 250*time.Millisecond {
		t.Errorf("pollInterval 250ms: %v, %v", c.PollInterval.Duration, err)
	}
}

func TestLoadStrict(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"unknown top", "url: http://j\nwebsocket: true\n", `unknown field "websocket"`},
		{"unknown in template", "templates: [{name: a, image: i, lable: x}]\n", `unknown field "templates[0].lable"`},
		// The plugin's template field is serviceAccount; the pod's serviceAccountName is not one.
		{"serviceAccountName", "templates: [{name: a, image: i, serviceAccountName: x}]\n", `unknown field "templates[0].serviceAccountName"`},
		{"automount not a bool", "templates: [{name: a, image: i, automountServiceAccountToken: maybe}]\n", "automountServiceAccountToken"},
		{"duplicate", "url: http://a\nurl: http://b\n", `"url"`},
		{"bad duration", "pollInterval: soon\n", "soon"},
		{"bad yaml", "templates: [\n", "config:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	c := Config{URL: "http://j", Credentials: Credentials{User: "admin", TokenEnv: "SECRET_ENV", TokenFile: "/secret/file"}}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "config", c, "creds", c.Credentials, "ptr", &c)
	outs := map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("%s", &c), "creds %+v": fmt.Sprintf("%+v", c.Credentials), "slog": buf.String(),
	}
	for how, out := range outs {
		if strings.Contains(out, "SECRET_ENV") || strings.Contains(out, "/secret/file") {
			t.Errorf("%s leaks credentials: %s", how, out)
		}
		if !strings.Contains(out, "admin") || !strings.Contains(out, redacted) {
			t.Errorf("%s = %s, want the user and %s", how, out, redacted)
		}
	}
}

func TestProviderNamespace(t *testing.T) {
	if got := (&Config{}).ProviderNamespace(); got != DefaultNamespace {
		t.Errorf("no namespace: ProviderNamespace = %q, want %q", got, DefaultNamespace)
	}
	if got := (&Config{Namespace: "ci"}).ProviderNamespace(); got != "ci" {
		t.Errorf("namespace ci: ProviderNamespace = %q, want ci", got)
	}
}
