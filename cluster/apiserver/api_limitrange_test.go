package apiserver_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LimitRanger: a namespace's Container defaults fill in what a new pod's containers do not
// state (and the kubernetes.io/limit-ranger annotation says so); max and the claim's storage
// bounds refuse with Kubernetes' messages; a LimitRange contradicting itself is a 422.
func TestLimitRangeDefaultsAndBounds(t *testing.T) {
	_, cs := startClient(t)
	ctx := testCtx(t)
	q := resource.MustParse
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
		{Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceCPU: q("1")},
			Default:        corev1.ResourceList{corev1.ResourceCPU: q("500m"), corev1.ResourceMemory: q("256Mi")},
			DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: q("100m")}},
		{Type: corev1.LimitTypePersistentVolumeClaim, Max: corev1.ResourceList{corev1.ResourceStorage: q("1Gi")}},
	}}}
	made, err := cs.CoreV1().LimitRanges("default").Create(ctx, lr, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Defaulted as Kubernetes does: defaultRequest.memory from default.
	if r := made.Spec.Limits[0].DefaultRequest[corev1.ResourceMemory]; r.String() != "256Mi" {
		t.Errorf("defaultRequest = %v", made.Spec.Limits[0].DefaultRequest)
	}

	p, err := cs.CoreV1().Pods("default").Create(ctx, newPod("plain", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := p.Spec.Containers[0].Resources
	if res.Limits.Cpu().String() != "500m" || res.Limits.Memory().String() != "256Mi" ||
		res.Requests.Cpu().String() != "100m" || res.Requests.Memory().String() != "256Mi" {
		t.Errorf("resources = %+v", res)
	}
	if got, want := p.Annotations["kubernetes.io/limit-ranger"], "LimitRanger plugin set: cpu, memory request for container main; cpu, memory limit for container main"; got != want {
		t.Errorf("annotation = %q, want %q", got, want)
	}
	if p.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qosClass = %s", p.Status.QOSClass)
	}

	big := newPod("big", nil)
	big.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: q("2")}
	_, err = cs.CoreV1().Pods("default").Create(ctx, big, metav1.CreateOptions{})
	if want := `pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2`; !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("big pod: %v, want %q", err, want)
	}

	fs := corev1.PersistentVolumeFilesystem
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, VolumeMode: &fs,
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q("2Gi")}}}}
	_, err = cs.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim, metav1.CreateOptions{})
	if want := `persistentvolumeclaims "data" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi`; !apierrors.IsForbidden(err) || err.Error() != want {
		t.Errorf("big claim: %v, want %q", err, want)
	}

	bad := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
		{Type: corev1.LimitTypeContainer, Min: corev1.ResourceList{corev1.ResourceCPU: q("2")}, Max: corev1.ResourceList{corev1.ResourceCPU: q("1")}},
		{Type: corev1.LimitTypePod, Default: corev1.ResourceList{corev1.ResourceCPU: q("1")}},
	}}}
	_, err = cs.CoreV1().LimitRanges("default").Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("contradictory LimitRange: %v, want 422", err)
	}
	for _, want := range []string{`spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1`,
		"spec.limits[1].default: Forbidden: may not be specified when `type` is 'Pod'"} {
		found := false
		for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
			found = found || c.Field+": "+c.Message == want || c.Message == want
		}
		if !found {
			t.Errorf("422 lacks %q: %v", want, err)
		}
	}
}
