package chart

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/drover-ci/drover/charts"
	"github.com/drover-ci/drover/cloud/config"
)

func render(t *testing.T, values map[string]any) map[string]any {
	t.Helper()
	c, err := Load(charts.Jenkins())
	if err != nil {
		t.Fatal(err)
	}
	docs, err := c.Render(Release{Name: "jenkins", Namespace: "ci"}, values)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]any{}
	for _, d := range docs {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(d.YAML), nil, nil)
		if err != nil {
			t.Fatalf("%s: %v\n%s", d.Source, err, d.YAML)
		}
		objs[d.Kind+"/"+d.Name] = obj
	}
	return objs
}

// The jenkins chart with its default values: every object install creates, with the
// Secret left to the user; the cloud configuration is valid and points at the Service.
func TestJenkinsChartDefaults(t *testing.T) {
	objs := render(t, nil)
	var kinds []string
	for k := range objs {
		kinds = append(kinds, k)
	}
	want := []string{"ConfigMap/drover-jenkins-cloud", "ConfigMap/jenkins-init", "Namespace/ci", "PersistentVolume/jenkins-home-ci",
		"PersistentVolumeClaim/jenkins-home", "ReplicationController/jenkins", "Service/jenkins"}
	if d := cmp.Diff(want, sortedKeys(objs)); d != "" {
		t.Errorf("objects (-want +got):\n%s", d)
	}
	rc := objs["ReplicationController/jenkins"].(*corev1.ReplicationController)
	ctr := rc.Spec.Template.Spec.Containers[0]
	if *rc.Spec.Replicas != 1 || ctr.Image != "jenkins/jenkins:lts-jdk17" || rc.Namespace != "ci" {
		t.Errorf("rc: replicas %d image %q namespace %q", *rc.Spec.Replicas, ctr.Image, rc.Namespace)
	}
	if ic := rc.Spec.Template.Spec.InitContainers; len(ic) != 1 || ic[0].Image != ctr.Image || *ic[0].SecurityContext.RunAsUser != 0 {
		t.Errorf("init containers = %+v", ic)
	}
	if p := ctr.LivenessProbe; p == nil || p.HTTPGet.Path != "/login" || p.InitialDelaySeconds != 90 {
		t.Errorf("liveness probe = %+v", p)
	}
	if m := ctr.VolumeMounts[1]; m.MountPath != "/usr/share/jenkins/ref/init.groovy.d/drover-admin.groovy.override" || m.SubPath != "drover-admin.groovy" {
		t.Errorf("init script mount = %+v", m)
	}
	pvc := objs["PersistentVolumeClaim/jenkins-home"].(*corev1.PersistentVolumeClaim)
	if pvc.Spec.VolumeName != "jenkins-home-ci" || pvc.Spec.Resources.Requests.Storage().String() != "8Gi" {
		t.Errorf("pvc spec = %+v", pvc.Spec)
	}
	pv := objs["PersistentVolume/jenkins-home-ci"].(*corev1.PersistentVolume)
	if pv.Spec.HostPath.Path != "/var/lib/drover/volumes/jenkins-home-ci" {
		t.Errorf("pv hostPath = %q", pv.Spec.HostPath.Path)
	}
	svc := objs["Service/jenkins"].(*corev1.Service)
	if len(svc.Spec.Ports) != 2 || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[1].Port != 50000 {
		t.Errorf("service ports = %+v", svc.Spec.Ports)
	}
	init := objs["ConfigMap/jenkins-init"].(*corev1.ConfigMap).Data["drover-admin.groovy"]
	for _, w := range []string{"HudsonPrivateSecurityRealm", "setAllowAnonymousRead(false)", "addFixedNewToken('drover', token)"} {
		if !strings.Contains(init, w) {
			t.Errorf("init script lacks %q", w)
		}
	}
	cm := objs["ConfigMap/drover-jenkins-cloud"].(*corev1.ConfigMap)
	if cm.Namespace != "kube-system" {
		t.Errorf("cloud ConfigMap namespace = %q", cm.Namespace)
	}
	cfg, err := config.Load([]byte(cm.Data["config.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "http://jenkins.ci.svc.cluster.local:8080" || cfg.Credentials.Secret != "jenkins-admin" ||
		cfg.JenkinsURL != "http://jenkins.ci.svc.cluster.local:8080/" || cfg.JenkinsTunnel != "" ||
		cfg.Namespace != "ci" || len(cfg.Templates) != 1 {
		t.Errorf("cloud config = %+v", cfg)
	}
	tp := cfg.Templates[0]
	if tp.Name != "default" || tp.Label != "docker" || tp.Image != "jenkins/inbound-agent:latest-jdk17" || tp.IdleMinutes != 0 {
		t.Errorf("template = %+v", tp)
	}
	// WebSocket by default (the official image offers no JNLP4-connect), never with a tunnel.
	if !tp.WebSocket || !cfg.UsesWebSocket(tp) || tp.AgentInjection {
		t.Errorf("template = %+v, want webSocket and no agentInjection", tp)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
}

// agent.webSocket=false renders TCP agents through the Service's agent port;
// agent.agentInjection=true sets the template's agentInjection.
func TestJenkinsChartTCPAgentsAndInjection(t *testing.T) {
	vals := map[string]any{}
	if err := Set(vals, "agent.webSocket=false,agent.agentInjection=true"); err != nil {
		t.Fatal(err)
	}
	objs := render(t, vals)
	cfg, err := config.Load([]byte(objs["ConfigMap/drover-jenkins-cloud"].(*corev1.ConfigMap).Data["config.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tp := cfg.Templates[0]
	if cfg.JenkinsTunnel != "jenkins.ci.svc.cluster.local:50000" || tp.WebSocket || cfg.UsesWebSocket(tp) || !tp.AgentInjection {
		t.Errorf("tunnel %q, template %+v", cfg.JenkinsTunnel, tp)
	}
}

func TestJenkinsChartValues(t *testing.T) {
	vals := map[string]any{}
	for _, s := range []string{"image=my/jenkins:2", "admin.password=pw,admin.token=11aa", "persistence.createVolume=false",
		"persistence.size=20Gi", "livenessDelay=5", "agent.label=docker linux", "createNamespace=false", "volumePermissions=false"} {
		if err := Set(vals, s); err != nil {
			t.Fatal(err)
		}
	}
	objs := render(t, vals)
	if _, ok := objs["PersistentVolume/jenkins-home-ci"]; ok {
		t.Error("a PV with createVolume=false")
	}
	if _, ok := objs["Namespace/ci"]; ok {
		t.Error("a Namespace with createNamespace=false")
	}
	sec := objs["Secret/jenkins-admin"].(*corev1.Secret)
	if string(sec.Data["user"]) != "admin" || string(sec.Data["password"]) != "pw" || string(sec.Data["token"]) != "11aa" {
		t.Errorf("secret = %q", sec.Data)
	}
	rc := objs["ReplicationController/jenkins"].(*corev1.ReplicationController)
	if n := len(rc.Spec.Template.Spec.InitContainers); n != 0 {
		t.Errorf("%d init containers with volumePermissions=false", n)
	}
	if c := rc.Spec.Template.Spec.Containers[0]; c.Image != "my/jenkins:2" || c.LivenessProbe.InitialDelaySeconds != 5 {
		t.Errorf("container = %s, delay %d", c.Image, c.LivenessProbe.InitialDelaySeconds)
	}
	pvc := objs["PersistentVolumeClaim/jenkins-home"].(*corev1.PersistentVolumeClaim)
	if pvc.Spec.VolumeName != "" || pvc.Spec.Resources.Requests.Storage().String() != "20Gi" {
		t.Errorf("pvc = %+v", pvc.Spec)
	}
	cfg, _ := config.Load([]byte(objs["ConfigMap/drover-jenkins-cloud"].(*corev1.ConfigMap).Data["config.yaml"]))
	if cfg.Templates[0].Label != "docker linux" {
		t.Errorf("label = %q", cfg.Templates[0].Label)
	}
}

func TestRenderHelmSemantics(t *testing.T) {
	fsys := fstest.MapFS{
		"Chart.yaml":       {Data: []byte("apiVersion: v2\nname: demo\nversion: 1.2.3\n")},
		"values.yaml":      {Data: []byte("a: {b: 1, c: x}\nlist: [1, 2]\nflag: false\n")},
		"templates/_h.tpl": {Data: []byte(`{{- define "demo.name" -}}{{ .Chart.Name }}-{{ .Release.Name }}{{- end }}`)},
		"templates/b.yaml": {Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "demo.name" . }}
data:
  q: {{ .Values.a.c | quote }}
  d: {{ default "dflt" .Values.missing | quote }}
  f: {{ default "on" .Values.flag | quote }}
  v: {{ .Chart.Version | quote }}
  y: {{- toYaml .Values.list | nindent 4 }}
---
# only a comment
---
apiVersion: v1
kind: Namespace
metadata:
  name: {{ .Release.Namespace }}
`)},
		"templates/a.yaml": {Data: []byte("{{- if .Values.flag }}\nkind: Secret\n{{- end }}\n")},
	}
	c, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := c.Render(Release{Name: "r", Namespace: "ns"}, map[string]any{"a": map[string]any{"c": "y"}})
	if err != nil {
		t.Fatal(err)
	}
	got := Manifest(docs)
	want := `---
# Source: demo/templates/b.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: ns
---
# Source: demo/templates/b.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: demo-r
data:
  q: "y"
  d: "dflt"
  f: "on"
  v: "1.2.3"
  y:
    - 1
    - 2
`
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Manifest (-want +got):\n%s", d)
	}
}

func TestSet(t *testing.T) {
	v := map[string]any{"keep": "k", "a": map[string]any{"x": 1}}
	for _, s := range []string{"a.b=true", "a.n=42", "a.z=007", "s=hello world", "keep=null"} {
		if err := Set(v, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := SetString(v, "t=11"); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": map[string]any{"x": 1, "b": true, "n": int64(42), "z": "007"}, "s": "hello world", "t": "11"}
	if d := cmp.Diff(want, v); d != "" {
		t.Errorf("values (-want +got):\n%s", d)
	}
	if err := Set(v, "novalue"); err == nil {
		t.Error("Set accepted an assignment without =")
	}
}
