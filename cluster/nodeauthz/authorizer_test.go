package nodeauthz

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

func nodeUser(n string) user.Info {
	return &user.DefaultInfo{Name: "system:node:" + n, Groups: []string{user.NodesGroup, user.AllAuthenticated}}
}

// Every way a pod names a Secret, ConfigMap, claim (and its PV) or ServiceAccount relates it to
// the pod's node, and to no other; a pod moved or deleted takes its relations along.
func TestGraphRelations(t *testing.T) {
	g := NewGraph()
	a := NewAuthorizer(g, nil)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "p"}, Spec: corev1.PodSpec{
		NodeName: "n1", ServiceAccountName: "builder", ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}},
		Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-secret"}}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}}}}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "home"}}},
		},
		InitContainers: []corev1.Container{{Name: "i", Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "env-secret"}}}}}}},
		Containers: []corev1.Container{{Name: "c", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "env-cm"}}}}}},
	}}
	g.SetPod(pod)
	g.SetPV(&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{
		ClaimRef: &corev1.ObjectReference{Namespace: "ci", Name: "home"}}})
	g.SetPV(&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv2"}, Spec: corev1.PersistentVolumeSpec{
		ClaimRef: &corev1.ObjectReference{Namespace: "ci", Name: "other"}}})
	get := func(node, resource, sub, ns, name, verb string) authorizer.Decision {
		d, _, err := a.Authorize(context.Background(), authorizer.AttributesRecord{User: nodeUser(node), Verb: verb, Namespace: ns,
			Resource: resource, Subresource: sub, Name: name, ResourceRequest: true, APIVersion: "v1"})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	allowed := [][]string{
		{"secrets", "", "ci", "pull", "get"}, {"secrets", "", "ci", "proj-secret", "get"}, {"secrets", "", "ci", "env-secret", "watch"},
		{"configmaps", "", "ci", "kube-root-ca.crt", "get"}, {"configmaps", "", "ci", "env-cm", "list"},
		{"persistentvolumeclaims", "", "ci", "home", "get"}, {"persistentvolumes", "", "", "pv1", "get"},
		{"serviceaccounts", "token", "ci", "builder", "create"},
	}
	for _, c := range allowed {
		if d := get("n1", c[0], c[1], c[2], c[3], c[4]); d != authorizer.DecisionAllow {
			t.Errorf("n1 %s %s/%s %s/%s: %v, want allowed", c[4], c[0], c[1], c[2], c[3], d)
		}
		if d := get("n2", c[0], c[1], c[2], c[3], c[4]); d == authorizer.DecisionAllow {
			t.Errorf("n2 %s %s %s/%s: allowed, want no opinion", c[4], c[0], c[2], c[3])
		}
	}
	for _, c := range [][]string{{"persistentvolumes", "", "", "pv2", "get"}, {"secrets", "", "ci", "pull", "update"},
		{"secrets", "", "ci", "", "list"}, {"secrets", "", "other", "pull", "get"}} {
		if d := get("n1", c[0], c[1], c[2], c[3], c[4]); d == authorizer.DecisionAllow {
			t.Errorf("n1 %s %s %s/%s: allowed", c[4], c[0], c[2], c[3])
		}
	}
	// Moved to n2, then gone.
	moved := pod.DeepCopy()
	moved.Spec.NodeName = "n2"
	g.SetPod(moved)
	if get("n1", "secrets", "", "ci", "pull", "get") == authorizer.DecisionAllow || get("n2", "secrets", "", "ci", "pull", "get") != authorizer.DecisionAllow {
		t.Error("the relation did not follow the pod to n2")
	}
	g.DeletePod("ci", "p")
	if get("n2", "secrets", "", "ci", "pull", "get") == authorizer.DecisionAllow {
		t.Error("a deleted pod's Secret is still readable")
	}
	// Not a node: no opinion, whatever it asks.
	d, _, _ := a.Authorize(context.Background(), authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "system:node:n1"},
		Verb: "get", Resource: "nodes", ResourceRequest: true})
	if d != authorizer.DecisionNoOpinion {
		t.Errorf("system:node:n1 without system:nodes: %v, want no opinion", d)
	}
}
