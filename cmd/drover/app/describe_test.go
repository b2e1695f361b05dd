package app

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
)

func TestDescribePodAndEvents(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "jenkins-x1", Namespace: "default", UID: "pod-uid", Labels: map[string]string{"name": "jenkins"}},
		Spec: corev1.PodSpec{
			NodeName: "node1",
			Containers: []corev1.Container{{
				Name: "jenkins", Image: "jenkins:2", Ports: []corev1.ContainerPort{{ContainerPort: 8080}, {ContainerPort: 50000, Protocol: "TCP"}},
				Env:           []corev1.EnvVar{{Name: "JAVA_OPTS", Value: "-Xmx1g"}},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/login", Port: intstr.FromInt32(8080)}}, InitialDelaySeconds: 60, TimeoutSeconds: 5, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3},
				VolumeMounts:  []corev1.VolumeMount{{Name: "home", MountPath: "/var/jenkins_home"}},
			}},
			Volumes: []corev1.Volume{{Name: "home", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data/jenkins"}}}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.1.0.5", HostIP: "192.168.1.2",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "jenkins", Ready: true, RestartCount: 2,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
		},
	}
	event := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "e1", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{UID: "pod-uid"},
		Type:           "Normal", Reason: "Started", Message: "Started container jenkins", Count: 1,
		Source: corev1.EventSource{Component: "drover-node", Host: "node1"},
	}
	raw, err := runtimeConverter.ToUnstructured(pod)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: raw}
	obj.SetAPIVersion("v1")
	obj.SetKind("Pod")
	var out bytes.Buffer
	if err := describeObject(t.Context(), &clients{typed: fake.NewSimpleClientset(event)}, &out, obj); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Name:", "jenkins-x1", "Node:", "node1/192.168.1.2", "Status:", "Running", "IP:", "10.1.0.5",
		"Image:", "jenkins:2", "Ports:", "8080/TCP, 50000/TCP", "State:", "Restart Count:", "2",
		"http-get http://:8080/login delay=60s timeout=5s period=10s #success=1 #failure=3",
		"JAVA_OPTS:  -Xmx1g", "/var/jenkins_home from home (rw)", "HostPath", "/data/jenkins",
		"Ready", "True", "Events:", "Started container jenkins", "drover-node, node1",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDescribeGeneric(t *testing.T) {
	obj := yamlObject(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: default}\ndata: {jenkinsUrl: 'http://j:8080', retries: '3'}\n")
	var out bytes.Buffer
	if err := describeObject(t.Context(), &clients{typed: fake.NewSimpleClientset()}, &out, obj); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Name:", "cfg", "Data:", "jenkinsUrl=http://j:8080", "retries=3", "Events:", "<none>"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe lacks %q:\n%s", want, out.String())
		}
	}
}

// The keys of labels, selectors and other user maps deep in a spec are printed as written
// (a CronJob's pod template labels were title-cased: "App.kubernetes.io/name").
func TestDescribeGenericKeepsUserKeys(t *testing.T) {
	obj := yamlObject(t, `apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: default}
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app.kubernetes.io/name: backup, tier: ops}}
        spec:
          restartPolicy: OnFailure
          nodeSelector: {disktype: ssd}
          containers: [{name: tar, image: busybox:1.36, resources: {limits: {memory: 64Mi}}}]
`)
	var out bytes.Buffer
	if err := describeObject(t.Context(), &clients{typed: fake.NewSimpleClientset()}, &out, obj); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"app.kubernetes.io/name=backup", "tier=ops", "disktype=ssd", "memory=64Mi", "Restart Policy:", "Job Template:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "App.kubernetes.io") || strings.Contains(out.String(), "Disktype") {
		t.Errorf("describe title-cased a label key:\n%s", out.String())
	}
}

func TestDescribeQuota(t *testing.T) {
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "ci-quota", Namespace: "ci", UID: "q-uid"},
		Spec: corev1.ResourceQuotaSpec{Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotTerminating}},
		Status: corev1.ResourceQuotaStatus{
			Hard: corev1.ResourceList{"pods": resource.MustParse("3"), "limits.memory": resource.MustParse("2Gi")},
			Used: corev1.ResourceList{"pods": resource.MustParse("1"), "limits.memory": resource.MustParse("512Mi")}}}
	raw, err := runtimeConverter.ToUnstructured(q)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: raw}
	obj.SetAPIVersion("v1")
	obj.SetKind("ResourceQuota")
	var out bytes.Buffer
	if err := describeObject(t.Context(), &clients{typed: fake.NewSimpleClientset()}, &out, obj); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Name:       ci-quota", "Namespace:  ci", "Scopes:     NotTerminating",
		" * Matches all pods that do not have an active deadline.", "Resource       Used   Hard",
		"limits.memory  512Mi  2Gi", "pods           1      3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe quota lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDescribeLimitRange(t *testing.T) {
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: "ci", UID: "lr-uid"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Max: corev1.ResourceList{"cpu": resource.MustParse("2")}, Default: corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("1Gi")},
			DefaultRequest: corev1.ResourceList{"cpu": resource.MustParse("250m"), "memory": resource.MustParse("512Mi")}}}}}
	raw, err := runtimeConverter.ToUnstructured(lr)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: raw}
	obj.SetAPIVersion("v1")
	obj.SetKind("LimitRange")
	var out bytes.Buffer
	if err := describeObject(t.Context(), &clients{typed: fake.NewSimpleClientset()}, &out, obj); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type        Resource  Min  Max  Default Request  Default Limit  Max Limit/Request Ratio",
		"Container   cpu       -    2    250m             1              -",
		"Container   memory    -    -    512Mi            1Gi            -"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe limitrange lacks %q:\n%s", want, out.String())
		}
	}
}
