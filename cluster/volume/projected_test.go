//go:build linux

package volume

import (
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func fieldItem(path, field string) corev1.DownwardAPIVolumeFile {
	return corev1.DownwardAPIVolumeFile{Path: path, FieldRef: &corev1.ObjectFieldSelector{FieldPath: field}}
}

func TestDownwardAPI(t *testing.T) {
	m, _ := newManager(t)
	pod := newPod("u1", corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		Items: []corev1.DownwardAPIVolumeFile{
			fieldItem("name", "metadata.name"), fieldItem("ns", "metadata.namespace"), fieldItem("uid", "metadata.uid"),
			fieldItem("labels", "metadata.labels"), fieldItem("app", "metadata.labels['app']"),
			fieldItem("annotations", "metadata.annotations"),
		}}}})
	pod.Labels = map[string]string{"tier": "ci", "app": "jenkins"}
	pod.Annotations = map[string]string{"note": `say "hi"`}
	dir := mustSetup(t, m, pod)["info"].HostPath
	for file, want := range map[string]string{
		"name": "web", "ns": "ns", "uid": "u1", "app": "jenkins",
		"labels": "app=\"jenkins\"\ntier=\"ci\"", "annotations": `note="say \"hi\""`,
	} {
		if got := readFile(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if got := modeOf(t, filepath.Join(dir, "name")); got != 0o644 {
		t.Errorf("mode = %o, want 644", got)
	}
	pod.Labels["tier"] = "prod"
	mustSetup(t, m, pod)
	if got := readFile(t, filepath.Join(dir, "labels")); got != "app=\"jenkins\"\ntier=\"prod\"" {
		t.Errorf("labels after relabel = %q", got)
	}
}

func TestDownwardAPIUnsupported(t *testing.T) {
	m, _ := newManager(t)
	got := setupErr(t, m, newPod("u1",
		corev1.Volume{Name: "a", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{fieldItem("ip", "status.podIP")}}}},
		corev1.Volume{Name: "b", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", ContainerName: "nope"}}}}}},
	))
	wantContains(t, got, `volume "a": downwardAPI ip: unsupported fieldPath "status.podIP"`)
	wantContains(t, got, `volume "b": downwardAPI cpu: node allocatable: nodes "node-1" not found`)
}

// resourceFieldRef items: the named container's limits and requests with their divisor, and
// the Node's allocatable for a limit the container does not set.
func TestDownwardAPIResources(t *testing.T) {
	q := resource.MustParse
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode}, Status: corev1.NodeStatus{
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: q("2"), corev1.ResourceMemory: q("4Gi")}}}
	m, _ := newManager(t, node)
	item := func(path, res, c, div string) corev1.DownwardAPIVolumeFile {
		return corev1.DownwardAPIVolumeFile{Path: path, ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: c, Resource: res, Divisor: q(div)}}
	}
	pod := newPod("u1", corev1.Volume{Name: "res", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		Items: []corev1.DownwardAPIVolumeFile{
			item("cpu_limit", "limits.cpu", "app", "1m"), item("mem_request", "requests.memory", "app", "1Mi"),
			item("free_cpu", "limits.cpu", "free", "1"), item("free_mem", "limits.memory", "free", "1Mi"),
		}}}})
	pod.Spec.Containers = []corev1.Container{
		{Name: "app", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: q("250m")},
			Requests: corev1.ResourceList{corev1.ResourceMemory: q("32Mi")}}},
		{Name: "free"},
	}
	dir := mustSetup(t, m, pod)["res"].HostPath
	for file, want := range map[string]string{"cpu_limit": "250", "mem_request": "32", "free_cpu": "2", "free_mem": "4096"} {
		if got := readFile(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
}

func TestProjected(t *testing.T) {
	needTmpfs(t)
	m, _ := newManager(t, secret("creds", map[string]string{"pass": "pw", "user": "u"}), configMap("cfg", map[string]string{"a": "1"}))
	pod := newPod("u1", corev1.Volume{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr(int32(0o440)),
		Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"},
				Items: []corev1.KeyToPath{{Key: "pass", Path: "secret/pass", Mode: ptr(int32(0o400))}}}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: ptr(true)}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{fieldItem("podname", "metadata.name")}}},
		}}}})
	dir := mustSetup(t, m, pod)["all"].HostPath
	if got := fsType(t, dir); got != "tmpfs" {
		t.Errorf("projected volume on %q, want tmpfs", got)
	}
	for file, want := range map[string]string{"secret/pass": "pw", "a": "1", "podname": "web"} {
		if got := readFile(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if got := modeOf(t, filepath.Join(dir, "secret/pass")); got != 0o400 {
		t.Errorf("item mode = %o, want 400", got)
	}
	if got := modeOf(t, filepath.Join(dir, "a")); got != 0o440 {
		t.Errorf("projected defaultMode = %o, want 440", got)
	}
}
