package registry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func rcTestRC(mutate func(*corev1.ReplicationController)) *corev1.ReplicationController {
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "jenkins", Namespace: "default"},
		Spec: corev1.ReplicationControllerSpec{Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "jenkins"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "jenkins", Image: "jenkins/jenkins:lts"}}},
		}},
	}
	if mutate != nil {
		mutate(rc)
	}
	rcDefault(rc)
	return rc
}

func TestRCDefaults(t *testing.T) {
	rc := rcTestRC(nil)
	got := []interface{}{*rc.Spec.Replicas, rc.Spec.Selector, rc.Labels, rc.Spec.Template.Spec.RestartPolicy,
		rc.Spec.Template.Spec.Containers[0].ImagePullPolicy}
	want := []interface{}{int32(1), map[string]string{"app": "jenkins"}, map[string]string{"app": "jenkins"},
		corev1.RestartPolicyAlways, corev1.PullIfNotPresent}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	rc.Spec.Selector["extra"] = "x"
	if _, ok := rc.Spec.Template.Labels["extra"]; ok {
		t.Error("defaulted selector aliases the template labels")
	}

	zero := int32(0)
	kept := rcTestRC(func(rc *corev1.ReplicationController) {
		rc.Spec.Replicas = &zero
		rc.Spec.Selector = map[string]string{"app": "jenkins"}
		rc.Labels = map[string]string{"team": "ci"}
	})
	if *kept.Spec.Replicas != 0 || kept.Labels["team"] != "ci" || len(kept.Labels) != 1 {
		t.Errorf("set values were overwritten: replicas %d labels %v", *kept.Spec.Replicas, kept.Labels)
	}
}

func TestRCValidate(t *testing.T) {
	neg := int32(-1)
	ads := int64(10)
	tests := []struct {
		name   string
		mutate func(*corev1.ReplicationController)
		want   []string
	}{
		{"valid", nil, []string{}},
		{"selector mismatch", func(rc *corev1.ReplicationController) { rc.Spec.Selector = map[string]string{"app": "other"} },
			[]string{"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"jenkins\"}: `selector` does not match template `labels`"}},
		{"no template", func(rc *corev1.ReplicationController) {
			rc.Spec.Template = nil
			rc.Spec.Selector = map[string]string{"app": "jenkins"}
		}, []string{"spec.template: Required value"}},
		{"no selector", func(rc *corev1.ReplicationController) { rc.Spec.Template.Labels = nil },
			[]string{"spec.selector: Required value"}},
		{"negative replicas", func(rc *corev1.ReplicationController) { rc.Spec.Replicas = &neg },
			[]string{"spec.replicas: Invalid value: -1: must be greater than or equal to 0"}},
		{"restart never", func(rc *corev1.ReplicationController) {
			rc.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		},
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
		{"deadline", func(rc *corev1.ReplicationController) { rc.Spec.Template.Spec.ActiveDeadlineSeconds = &ads },
			[]string{"spec.template.spec.activeDeadlineSeconds: Invalid value: 10: activeDeadlineSeconds in ReplicationController is not Supported"}},
		{"pod spec errors carry the template path", func(rc *corev1.ReplicationController) { rc.Spec.Template.Spec.Containers[0].Image = "" },
			[]string{"spec.template.spec.containers[0].image: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := rcTestRC(tt.mutate)
			if d := cmp.Diff(tt.want, podErrStrings(rcValidate(rc))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestRCValidateStatus(t *testing.T) {
	rc := rcTestRC(nil)
	rc.Status = corev1.ReplicationControllerStatus{Replicas: 1, ReadyReplicas: 2, AvailableReplicas: 1, FullyLabeledReplicas: -1}
	want := []string{
		"status.fullyLabeledReplicas: Invalid value: -1: must be greater than or equal to 0",
		"status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
	}
	if d := cmp.Diff(want, podErrStrings(rcValidateStatus(rc))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestRCTableAndFields(t *testing.T) {
	rc := rcTestRC(func(rc *corev1.ReplicationController) {
		rc.CreationTimestamp = metav1.NewTime(time.Now().Add(-90 * time.Second))
		rc.Spec.Template.Spec.Containers = append(rc.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar", Image: "busybox"})
	})
	rc.Status = corev1.ReplicationControllerStatus{Replicas: 1, ReadyReplicas: 0}
	r := podLookup(t, "", "replicationcontrollers")
	row, err := r.Table.Row(rc)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"jenkins", int64(1), int64(1), int64(0), "90s", "jenkins,sidecar", "jenkins/jenkins:lts,busybox", "app=jenkins"}
	if d := cmp.Diff(want, row); d != "" {
		t.Errorf("row (-want +got):\n%s", d)
	}
	if got := r.Fields(rc)["status.replicas"]; got != "1" {
		t.Errorf("status.replicas field = %q", got)
	}
}
