package chart

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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
		"Service/jenkins", "StatefulSet/jenkins"}
	if d := cmp.Diff(want, sortedKeys(objs)); d != "" {
		t.Errorf("objects (-want +got):\n%s", d)
	}
	sts := objs["StatefulSet/jenkins"].(*appsv1.StatefulSet)
	ctr := sts.Spec.Template.Spec.Containers[0]
	if *sts.Spec.Replicas != 1 || ctr.Image != "jenkins/jenkins:lts-jdk17" || sts.Namespace != "ci" {
		t.Errorf("statefulset: replicas %d image %q namespace %q", *sts.Spec.Replicas, ctr.Image, sts.Namespace)
	}
	// Governed by the Service jenkins (as in the official chart); Parallel so that a pod of a
	// broken revision does not block the rollback; rolling updates.
	if sts.Spec.ServiceName != "jenkins" || sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement ||
		sts.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		t.Errorf("statefulset spec: serviceName %q, podManagementPolicy %q, updateStrategy %+v",
			sts.Spec.ServiceName, sts.Spec.PodManagementPolicy, sts.Spec.UpdateStrategy)
	}
	sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(sts.Spec.Template.Labels)) {
		t.Errorf("selector %v does not match the template's labels %v (%v)", sts.Spec.Selector, sts.Spec.Template.Labels, err)
	}
	if ic := sts.Spec.Template.Spec.InitContainers; len(ic) != 1 || ic[0].Image != ctr.Image || *ic[0].SecurityContext.RunAsUser != 0 {
		t.Errorf("init containers = %+v", ic)
	}
	if p := ctr.LivenessProbe; p == nil || p.HTTPGet.Path != "/login" || p.InitialDelaySeconds != 90 {
		t.Errorf("liveness probe = %+v", p)
	}
	if p := ctr.ReadinessProbe; p == nil || p.HTTPGet.Path != "/login" {
		t.Errorf("readiness probe = %+v", p)
	}
	if m := ctr.VolumeMounts[0]; m.Name != "jenkins-home" || m.MountPath != "/var/jenkins_home" {
		t.Errorf("JENKINS_HOME mount = %+v", m)
	}
	if m := ctr.VolumeMounts[1]; m.MountPath != "/usr/share/jenkins/ref/init.groovy.d/drover-admin.groovy.override" || m.SubPath != "drover-admin.groovy" {
		t.Errorf("init script mount = %+v", m)
	}
	if env := envValue(ctr.Env, "JAVA_OPTS"); env != "-Djenkins.install.runSetupWizard=false" {
		t.Errorf("JAVA_OPTS = %q", env)
	}
	// The admin credentials are files of the Secret's volume, in no container's environment
	// (issue 16: builds inherit the controller's environment, docker inspect shows it).
	for _, c := range append(append([]corev1.Container{}, sts.Spec.Template.Spec.InitContainers...), sts.Spec.Template.Spec.Containers...) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil || strings.HasPrefix(e.Name, "DROVER_ADMIN") {
				t.Errorf("container %s: env %s = %+v: a credential in the environment", c.Name, e.Name, e)
			}
		}
		if len(c.EnvFrom) != 0 {
			t.Errorf("container %s: envFrom %+v", c.Name, c.EnvFrom)
		}
	}
	if m := ctr.VolumeMounts[2]; m.Name != "admin" || m.MountPath != "/run/secrets/jenkins-admin" || !m.ReadOnly || m.SubPath != "" {
		t.Errorf("admin secret mount = %+v", m)
	}
	var adminVol *corev1.Volume
	for i, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == "admin" {
			adminVol = &sts.Spec.Template.Spec.Volumes[i]
		}
	}
	if adminVol == nil || adminVol.Secret == nil || adminVol.Secret.SecretName != "jenkins-admin" ||
		adminVol.Secret.DefaultMode == nil || *adminVol.Secret.DefaultMode != 0o444 || len(adminVol.Secret.Items) != 0 {
		t.Errorf("admin volume = %+v", adminVol)
	}
	// JENKINS_HOME is the claim template's (no volume of that name in the pod template).
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == "jenkins-home" {
			t.Errorf("the pod template has a volume jenkins-home: %+v", v)
		}
	}
	if n := len(sts.Spec.VolumeClaimTemplates); n != 1 {
		t.Fatalf("%d volumeClaimTemplates", n)
	}
	vct := sts.Spec.VolumeClaimTemplates[0]
	if vct.Name != "jenkins-home" || vct.Spec.VolumeName != "jenkins-home-ci" || vct.Spec.Resources.Requests.Storage().String() != "8Gi" ||
		vct.Spec.StorageClassName == nil || *vct.Spec.StorageClassName != "" {
		t.Errorf("volumeClaimTemplate = %+v", vct)
	}
	if p := sts.Spec.PersistentVolumeClaimRetentionPolicy; p == nil || p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("claim retention = %+v", p)
	}
	pv := objs["PersistentVolume/jenkins-home-ci"].(*corev1.PersistentVolume)
	if pv.Spec.HostPath.Path != "/var/lib/drover/volumes/jenkins-home-ci" || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		t.Errorf("pv = %+v", pv.Spec)
	}
	// The volume is reserved for the claim of pod jenkins-0 (CLAIMTEMPLATE-SET-ORDINAL).
	if r := pv.Spec.ClaimRef; r == nil || r.Namespace != "ci" || r.Name != "jenkins-home-jenkins-0" || r.UID != "" {
		t.Errorf("pv claimRef = %+v", r)
	}
	svc := objs["Service/jenkins"].(*corev1.Service)
	if len(svc.Spec.Ports) != 2 || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[1].Port != 50000 {
		t.Errorf("service ports = %+v", svc.Spec.Ports)
	}
	init := objs["ConfigMap/jenkins-init"].(*corev1.ConfigMap).Data["drover-admin.groovy"]
	for _, w := range []string{"HudsonPrivateSecurityRealm", "setAllowAnonymousRead(false)", "addFixedNewToken('drover', token)",
		"new File('/run/secrets/jenkins-admin', key)", "secret('user')", "secret('password')", "secret('token')",
		"j.setNumExecutors(0)"} {
		if !strings.Contains(init, w) {
			t.Errorf("init script lacks %q", w)
		}
	}
	if strings.Contains(init, "getenv") || strings.Contains(init, "DROVER_ADMIN") {
		t.Errorf("init script reads the environment:\n%s", init)
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

// The agents' identity: no ServiceAccount and no token by default; agent.serviceAccount and
// agent.automountServiceAccountToken set the template's fields.
func TestJenkinsChartAgentServiceAccount(t *testing.T) {
	template := func(set string) config.Template {
		t.Helper()
		vals := map[string]any{}
		if set != "" {
			if err := Set(vals, set); err != nil {
				t.Fatal(err)
			}
		}
		cfg, err := config.Load([]byte(render(t, vals)["ConfigMap/drover-jenkins-cloud"].(*corev1.ConfigMap).Data["config.yaml"]))
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return cfg.Templates[0]
	}
	if tp := template(""); tp.ServiceAccount != "" || tp.AutomountServiceAccountToken {
		t.Errorf("default template: serviceAccount %q automount %v", tp.ServiceAccount, tp.AutomountServiceAccountToken)
	}
	if tp := template("agent.serviceAccount=builder,agent.automountServiceAccountToken=true"); tp.ServiceAccount != "builder" || !tp.AutomountServiceAccountToken {
		t.Errorf("template: serviceAccount %q automount %v", tp.ServiceAccount, tp.AutomountServiceAccountToken)
	}
}

func TestJenkinsChartValues(t *testing.T) {
	vals := map[string]any{}
	for _, s := range []string{"image=my/jenkins:2", "admin.password=pw,admin.token=11aa", "persistence.createVolume=false",
		"persistence.size=20Gi", "livenessDelay=5", "agent.label=docker linux", "createNamespace=false", "volumePermissions=false",
		"javaOpts=-Xmx1g -Dx=y"} {
		if err := Set(vals, s); err != nil {
			t.Fatal(err)
		}
	}
	vals["extraEnv"] = []any{map[string]any{"name": "GREETING", "value": "hello"}}
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
	sts := objs["StatefulSet/jenkins"].(*appsv1.StatefulSet)
	if n := len(sts.Spec.Template.Spec.InitContainers); n != 0 {
		t.Errorf("%d init containers with volumePermissions=false", n)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	if c.Image != "my/jenkins:2" || c.LivenessProbe.InitialDelaySeconds != 5 {
		t.Errorf("container = %s, delay %d", c.Image, c.LivenessProbe.InitialDelaySeconds)
	}
	if v := envValue(c.Env, "JAVA_OPTS"); v != "-Djenkins.install.runSetupWizard=false -Xmx1g -Dx=y" {
		t.Errorf("JAVA_OPTS = %q", v)
	}
	if v := envValue(c.Env, "GREETING"); v != "hello" {
		t.Errorf("extraEnv GREETING = %q (env %+v)", v, c.Env)
	}
	vct := sts.Spec.VolumeClaimTemplates[0]
	if vct.Spec.VolumeName != "" || vct.Spec.Resources.Requests.Storage().String() != "20Gi" {
		t.Errorf("volumeClaimTemplate = %+v", vct.Spec)
	}
	cfg, _ := config.Load([]byte(objs["ConfigMap/drover-jenkins-cloud"].(*corev1.ConfigMap).Data["config.yaml"]))
	if cfg.Templates[0].Label != "docker linux" {
		t.Errorf("label = %q", cfg.Templates[0].Label)
	}
}

func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// Documents come in Helm's install order: the StatefulSet after the Service that governs it and
// after the PersistentVolume its claim binds to.
func TestJenkinsChartInstallOrder(t *testing.T) {
	c, err := Load(charts.Jenkins())
	if err != nil {
		t.Fatal(err)
	}
	docs, err := c.Render(Release{Name: "jenkins", Namespace: "ci"}, map[string]any{"admin": map[string]any{"password": "p", "token": "t"}})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, d := range docs {
		if len(kinds) == 0 || kinds[len(kinds)-1] != d.Kind {
			kinds = append(kinds, d.Kind)
		}
	}
	want := []string{"Namespace", "Secret", "ConfigMap", "PersistentVolume", "Service", "StatefulSet"}
	if d := cmp.Diff(want, kinds); d != "" {
		t.Errorf("kinds in order (-want +got):\n%s", d)
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
