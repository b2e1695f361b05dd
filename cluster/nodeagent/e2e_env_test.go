package nodeagent_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Env values, $(VAR) expansion with the $$ escape, downward fieldRefs, secret and configMap
// keys, and the docker-link variables of a service that exists when the pod starts.
func TestE2EEnv(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	ctx := context.Background()
	core := e.client.CoreV1()
	if _, err := core.Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Data: map[string][]byte{"password": []byte("s3cret")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"},
		Data: map[string]string{"mode": "fast"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "jenkins"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.77", Selector: map[string]string{"app": "jenkins"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}, {Name: "slave", Port: 50000, Protocol: corev1.ProtocolTCP}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	env := []corev1.EnvVar{
		{Name: "GREETING", Value: "hello"},
		{Name: "EXPANDED", Value: "$(GREETING)-world"},
		{Name: "ESCAPED", Value: "$$(GREETING)"},
		{Name: "UNKNOWN", Value: "$(NOPE)"},
		{Name: "POD_NAME", ValueFrom: field("metadata.name")},
		{Name: "POD_NS", ValueFrom: field("metadata.namespace")},
		{Name: "POD_IP", ValueFrom: field("status.podIP")},
		{Name: "NODE", ValueFrom: field("spec.nodeName")},
		{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
		{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "mode"}}},
		{Name: "AGENT_URL", Value: "http://$(JENKINS_SERVICE_HOST):$(JENKINS_SERVICE_PORT_HTTP)"},
	}
	words := exitContainer("words", map[string]string{"SLEEP": "inf"}, "$(GREETING)", "$$(GREETING)", "$(POD_NAME)")
	words.Env = append(words.Env, env...)
	e.create(testPod("envy", serverContainer("web", 8080, env...), words))
	p := e.waitRunning("envy")

	got := map[string]string{}
	for _, line := range strings.Split(mustHTTP(t, "GET", "http://"+p.Status.PodIP+":8080/env"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	want := map[string]string{
		"GREETING": "hello", "EXPANDED": "hello-world", "ESCAPED": "$(GREETING)", "UNKNOWN": "$(NOPE)",
		"POD_NAME": "envy", "POD_NS": "default", "POD_IP": p.Status.PodIP, "NODE": e.node,
		"PASSWORD": "s3cret", "MODE": "fast", "AGENT_URL": "http://10.96.0.77:8080",
		"JENKINS_SERVICE_HOST": "10.96.0.77", "JENKINS_SERVICE_PORT": "8080",
		"JENKINS_SERVICE_PORT_HTTP": "8080", "JENKINS_SERVICE_PORT_SLAVE": "50000",
		"JENKINS_PORT":               "tcp://10.96.0.77:8080",
		"JENKINS_PORT_8080_TCP":      "tcp://10.96.0.77:8080",
		"JENKINS_PORT_8080_TCP_ADDR": "10.96.0.77", "JENKINS_PORT_8080_TCP_PORT": "8080", "JENKINS_PORT_8080_TCP_PROTO": "tcp",
		"JENKINS_PORT_50000_TCP": "tcp://10.96.0.77:50000", "JENKINS_PORT_50000_TCP_PORT": "50000",
	}
	sub := map[string]string{}
	for k := range want {
		sub[k] = got[k]
	}
	if d := cmp.Diff(want, sub); d != "" {
		t.Errorf("container environment (-want +got):\n%s", d)
	}

	// Args are expanded with the same variables.
	rc, err := core.Pods("default").GetLogs("envy", &corev1.PodLogOptions{Container: "words"}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out, _ := io.ReadAll(rc)
	if want := "hello\n$(GREETING)\nenvy\n"; string(out) != want {
		t.Errorf("words printed %q, want %q", out, want)
	}
}

// Secret and configMap volumes appear as files with their modes (items, defaultMode); a
// hostPath DirectoryOrCreate is created on the host and shared with it.
func TestE2EFileVolumes(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	ctx := context.Background()
	core := e.client.CoreV1()
	if _, err := core.Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls"},
		Data: map[string][]byte{"key.pem": []byte("KEY"), "cert.pem": []byte("CERT")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Data: map[string]string{"app.properties": "a=1\n", "unused": "x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostDir := filepath.Join(t.TempDir(), "made", "by", "agent")
	mode0400, mode0600 := int32(0o400), int32(0o600)
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	web := serverContainer("web", 8080)
	web.VolumeMounts = []corev1.VolumeMount{
		{Name: "tls", MountPath: "/etc/tls", ReadOnly: true},
		{Name: "app", MountPath: "/etc/app"},
		{Name: "host", MountPath: "/host"},
	}
	pod := testPod("files", web)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls", DefaultMode: &mode0400}}},
		{Name: "app", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "app"},
			Items:                []corev1.KeyToPath{{Key: "app.properties", Path: "conf/app.properties", Mode: &mode0600}}}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir, Type: &dirOrCreate}}},
	}
	e.create(pod)
	p := e.waitRunning("files")
	base := "http://" + p.Status.PodIP + ":8080"
	for path, want := range map[string]string{
		"/etc/tls/key.pem": "KEY", "/etc/tls/cert.pem": "CERT", "/etc/app/conf/app.properties": "a=1\n",
	} {
		if got := mustHTTP(t, "GET", base+"/file?path="+path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if code, _, _ := httpDo("GET", base+"/file?path=/etc/app/unused"); code != 404 {
		t.Errorf("/etc/app/unused: status %d, want 404 (not among the items)", code)
	}
	if code, body, _ := httpDo("POST", base+"/write?path=/etc/tls/new&data=x"); code == 200 {
		t.Errorf("writing into a read-only secret mount succeeded: %q", body)
	}

	// Modes, seen on the host through the container's mount sources.
	j, err := e.dockerCLI().ContainerInspect(ctx, strings.TrimPrefix(status(p, "web").ContainerID, "docker://"))
	if err != nil {
		t.Fatal(err)
	}
	src := map[string]string{}
	for _, m := range j.Mounts {
		src[m.Destination] = m.Source
	}
	for file, want := range map[string]os.FileMode{
		filepath.Join(src["/etc/tls"], "key.pem"):                0o400,
		filepath.Join(src["/etc/app"], "conf", "app.properties"): 0o600,
	} {
		fi, err := os.Stat(file)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", file, fi.Mode().Perm(), want)
		}
	}
	if src["/host"] != hostDir {
		t.Errorf("/host mounts %q, want %q", src["/host"], hostDir)
	}

	mustHTTP(t, "POST", base+"/write?path=/host/out.txt&data=to-host")
	if b, err := os.ReadFile(filepath.Join(hostDir, "out.txt")); err != nil || string(b) != "to-host" {
		t.Errorf("host file: %q %v, want to-host", b, err)
	}
}
