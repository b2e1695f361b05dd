package nodeagent_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/nodeagent"
)

// A change of a ConfigMap or Secret reaches the files of the volumes made from it (plain and
// projected) in a running container, without the pod changing: the agent syncs such pods
// every SyncFrequency, as the kubelet does every syncFrequency.
func TestE2EObjectVolumesRefreshed(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{syncFrequency: time.Second})
	ctx := context.Background()
	cms, secrets := e.client.CoreV1().ConfigMaps("default"), e.client.CoreV1().Secrets("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "live"}, Data: map[string]string{"k": "one"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "live"}, Data: map[string][]byte{"s": []byte("one")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := shellCmd("app", "exec sleep 3600")
	c.VolumeMounts = []corev1.VolumeMount{{Name: "cm", MountPath: "/cm"}, {Name: "sec", MountPath: "/sec"}, {Name: "proj", MountPath: "/proj"}}
	pod := testPod("refresh", c)
	ref := corev1.LocalObjectReference{Name: "live"}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: ref}}},
		{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "live"}}},
		{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: ref}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: ref}}}}}},
	}
	p := e.create(pod)
	e.waitRunning("refresh")
	var id string
	for _, ct := range e.containers(string(p.UID)) {
		if ct.Labels[nodeagent.LabelContainer] == "app" {
			id = ct.ID
		}
	}
	read := func() string {
		res, err := e.rt.Exec(ctx, id, []string{"cat", "/cm/k", "/sec/s", "/proj/k", "/proj/s"}, 5*time.Second)
		if err != nil {
			return err.Error()
		}
		return string(res.Output)
	}
	if got := read(); got != "oneoneoneone" {
		t.Fatalf("files before the change: %q", got)
	}
	if _, err := cms.Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "live"}, Data: map[string]string{"k": "two"}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "live"}, Data: map[string][]byte{"s": []byte("three")}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.poll(30*time.Second, "the new contents in the container", func() (bool, string) {
		got := read()
		return got == "twothreetwothree", got
	})
}
