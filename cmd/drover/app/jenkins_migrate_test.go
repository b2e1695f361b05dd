package app

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// oldInstall creates what `drover jenkins install` made before the StatefulSet: the RC jenkins
// (with a running pod of its own) and the claim jenkins-home bound to volume (with policy).
func (e *jenkinsEnv) oldInstall(ns, volume string, policy corev1.PersistentVolumeReclaimPolicy) *corev1.Pod {
	e.t.Helper()
	ctx := context.Background()
	core := e.kube.CoreV1()
	labels := map[string]string{"app.kubernetes.io/name": "jenkins", "app.kubernetes.io/instance": "jenkins", "app.kubernetes.io/managed-by": "drover"}
	if _, err := core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	pv, err := core.PersistentVolumes().Create(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: volume, Labels: labels},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("8Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, PersistentVolumeReclaimPolicy: policy,
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + volume}}}}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	empty := ""
	claim, err := core.PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-home", Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &empty,
			VolumeName: volume, Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("8Gi")}}}},
		metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	pv.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: ns, Name: "jenkins-home", UID: claim.UID}
	if pv, err = core.PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	pv.Status.Phase = corev1.VolumeBound
	if _, err := core.PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	one := int32(1)
	rc, err := core.ReplicationControllers(ns).Create(ctx, &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "jenkins", Labels: labels},
		Spec: corev1.ReplicationControllerSpec{Replicas: &one, Selector: map[string]string{"app.kubernetes.io/name": "jenkins", "app.kubernetes.io/instance": "jenkins"},
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "jenkins", Image: "jenkins/jenkins:lts-jdk17"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	pod, err := core.Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-abcde", Labels: labels,
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rc, corev1.SchemeGroupVersion.WithKind("ReplicationController"))}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "jenkins", Image: "jenkins/jenkins:lts-jdk17"}}}}, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return pod
}

// playReplicationManager deletes the RC's pod once the RC is scaled to 0 (there are no
// controllers behind apiservertest).
func (e *jenkinsEnv) playReplicationManager(ns string, pod *corev1.Pod) {
	ctx := context.Background()
	go func() {
		for i := 0; i < 200; i++ {
			time.Sleep(100 * time.Millisecond)
			rc, err := e.kube.CoreV1().ReplicationControllers(ns).Get(ctx, "jenkins", metav1.GetOptions{})
			if err == nil && rc.Spec.Replicas != nil && *rc.Spec.Replicas == 0 {
				time.Sleep(1500 * time.Millisecond) // the pod takes a while to stop
				if err := e.kube.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
					e.t.Error(err)
				}
				return
			}
		}
	}()
}

// An install made with the ReplicationController is migrated: the RC's pod stops before
// anything else moves, the RC and the old claim go, the volume (kept: Retain) is reserved for
// the StatefulSet's claim jenkins-home-jenkins-0, which is created naming it, then the
// StatefulSet; each step is printed. A second install finds nothing more to migrate.
func TestJenkinsInstallMigratesRC(t *testing.T) {
	e := newJenkinsEnv(t)
	ctx := context.Background()
	pod := e.oldInstall("ci", "jenkins-home-ci", corev1.PersistentVolumeReclaimRetain)
	e.playReplicationManager("ci", pod)
	out := e.drover("jenkins", "install", "-n", "ci", "--wait=false", "--timeout", "30s")
	want := []string{
		"Migrating Jenkins in ci from the ReplicationController to a StatefulSet; JENKINS_HOME stays on persistentvolume/jenkins-home-ci",
		"replicationcontroller/jenkins scaled to 0",
		"waiting for pod jenkins-abcde to stop",
		"replicationcontroller/jenkins deleted",
		"persistentvolumeclaim/jenkins-home deleted (its volume is kept)",
		"persistentvolume/jenkins-home-ci reserved for persistentvolumeclaim/jenkins-home-jenkins-0",
		"persistentvolumeclaim/jenkins-home-jenkins-0 created for the StatefulSet's pod jenkins-0 (volume jenkins-home-ci)",
		"persistentvolume/jenkins-home-ci unchanged",
		"statefulset/jenkins created",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("install output lacks %q after position %d:\n%s", w, at, out)
		}
		at += i + len(w)
	}
	if strings.Contains(out, "reclaim policy") {
		t.Errorf("a Retain volume's policy was touched:\n%s", out)
	}
	core := e.kube.CoreV1()
	if _, err := core.ReplicationControllers("ci").Get(ctx, "jenkins", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the RC is still there: %v", err)
	}
	if _, err := core.PersistentVolumeClaims("ci").Get(ctx, "jenkins-home", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the old claim is still there: %v", err)
	}
	pv, err := core.PersistentVolumes().Get(ctx, "jenkins-home-ci", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := pv.Spec.ClaimRef; r == nil || r.Name != "jenkins-home-jenkins-0" || r.Namespace != "ci" || r.UID != "" ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		t.Errorf("volume: claimRef %+v, policy %s", pv.Spec.ClaimRef, pv.Spec.PersistentVolumeReclaimPolicy)
	}
	claim, err := core.PersistentVolumeClaims("ci").Get(ctx, "jenkins-home-jenkins-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if claim.Spec.VolumeName != "jenkins-home-ci" || claim.Labels["app.kubernetes.io/name"] != "jenkins" || claim.Labels["app.kubernetes.io/instance"] != "jenkins" ||
		claim.Spec.Resources.Requests.Storage().String() != "8Gi" {
		t.Errorf("new claim: volume %q labels %v spec %+v", claim.Spec.VolumeName, claim.Labels, claim.Spec)
	}
	sts, err := e.kube.AppsV1().StatefulSets("ci").Get(ctx, "jenkins", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := sts.Spec.VolumeClaimTemplates[0]; v.Name+"-"+sts.Name+"-0" != "jenkins-home-jenkins-0" || v.Spec.VolumeName != "jenkins-home-ci" {
		t.Errorf("claim template %s names volume %q", v.Name, v.Spec.VolumeName)
	}

	out = e.drover("jenkins", "install", "-n", "ci", "--wait=false")
	if strings.Contains(out, "Migrating") || !strings.Contains(out, "statefulset/jenkins unchanged") {
		t.Errorf("second install:\n%s", out)
	}
}

// The old claim bound to a volume of the user's with the Delete policy: the policy becomes
// Retain before the claim goes (else the volume would go with it), and no hostPath volume is
// made for the StatefulSet.
func TestJenkinsInstallMigratesRCKeepsDeleteVolume(t *testing.T) {
	e := newJenkinsEnv(t)
	ctx := context.Background()
	pod := e.oldInstall("jenkins", "big", corev1.PersistentVolumeReclaimDelete)
	e.playReplicationManager("jenkins", pod)
	out := e.drover("jenkins", "install", "--wait=false", "--timeout", "30s")
	if !strings.Contains(out, "persistentvolume/big reclaim policy Retain (was Delete): it must outlive the claim jenkins-home") {
		t.Errorf("install output:\n%s", out)
	}
	pv, err := e.kube.CoreV1().PersistentVolumes().Get(ctx, "big", metav1.GetOptions{})
	if err != nil || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain || pv.Spec.ClaimRef.Name != "jenkins-home-jenkins-0" {
		t.Fatalf("volume big: %v %+v", err, pv)
	}
	if e.objects("jenkins")["pv"] {
		t.Error("a hostPath volume jenkins-home-jenkins was made although the data is on big")
	}
	claim, err := e.kube.CoreV1().PersistentVolumeClaims("jenkins").Get(ctx, "jenkins-home-jenkins-0", metav1.GetOptions{})
	if err != nil || claim.Spec.VolumeName != "big" {
		t.Fatalf("new claim: %v %+v", err, claim)
	}
}

// An RC jenkins drover did not make is never touched.
func TestJenkinsInstallRefusesForeignRC(t *testing.T) {
	e := newJenkinsEnv(t)
	ctx := context.Background()
	if _, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "jenkins"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	labels := map[string]string{"app": "jenkins"}
	if _, err := e.kube.CoreV1().ReplicationControllers("jenkins").Create(ctx, &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "jenkins"},
		Spec: corev1.ReplicationControllerSpec{Replicas: &one, Selector: labels, Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "j", Image: "jenkins/jenkins"}}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err := Run(ctx, []string{"jenkins", "install", "--wait=false", "--kubeconfig", e.kc}, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	if err == nil || !strings.Contains(err.Error(), "replicationcontroller/jenkins in jenkins was not made by drover jenkins install") {
		t.Fatalf("install = %v\n%s", err, out.String())
	}
	rc, err := e.kube.CoreV1().ReplicationControllers("jenkins").Get(ctx, "jenkins", metav1.GetOptions{})
	if err != nil || *rc.Spec.Replicas != 1 {
		t.Errorf("the foreign RC was changed: %v", err)
	}
	if e.objects("jenkins")["sts"] {
		t.Error("a StatefulSet was created")
	}
}
