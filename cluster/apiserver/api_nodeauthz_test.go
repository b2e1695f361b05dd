package apiserver_test

import (
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

// asNode is a client of srv with node's own credential, system:node:NAME in system:nodes.
func asNode(t *testing.T, srv *apiservertest.Server, node string) kubernetes.Interface {
	t.Helper()
	c, err := srv.PKI.IssueUser("system:node:"+node, "system:nodes")
	if err != nil {
		t.Fatal(err)
	}
	return asCert(t, srv, c)
}

func podUsing(name, node, secret, configMap string) *corev1.Pod {
	p := newPod(name, nil)
	p.Spec.NodeName = node
	p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}}
	p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}}
	return p
}

func wantForbidden(t *testing.T, what string, err error, msg string) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s: %v, want 403 Forbidden", what, err)
		return
	}
	if msg != "" && !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: %q, want it to say %q", what, err.Error(), msg)
	}
}

// A node's credential reads only the Secrets and ConfigMaps of pods bound to it (the Node
// authorizer's graph, kept current from a watch), writes only its own Node, Lease and pods'
// status, and creates no pods (NodeRestriction).
func TestNodeAuthorizerAndNodeRestriction(t *testing.T) {
	t.Parallel()
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{AuthorizationMode: apiserver.AuthorizationModeRBAC})
	admin := clientFor(t, srv.Config)
	ctx := testCtx(t)
	for _, n := range []string{"n1", "n2"} {
		if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s-" + n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-" + n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "default ServiceAccount", func() (bool, error) {
		_, err := admin.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	for _, n := range []string{"n1", "n2"} {
		if _, err := admin.CoreV1().Pods("default").Create(ctx, podUsing("p-"+n, n, "s-"+n, "cm-"+n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	n1 := asNode(t, srv, "n1")

	// Its own pod's Secret and ConfigMap: readable (once the graph has seen the pod).
	eventually(t, 20*time.Second, "n1 reads its pod's Secret", func() (bool, error) {
		_, err := n1.CoreV1().Secrets("default").Get(ctx, "s-n1", metav1.GetOptions{})
		return err == nil, nil
	})
	if _, err := n1.CoreV1().ConfigMaps("default").Get(ctx, "cm-n1", metav1.GetOptions{}); err != nil {
		t.Errorf("n1 reads its pod's ConfigMap: %v", err)
	}
	// Another node's pod's: 403 with Kubernetes' reason.
	_, err := n1.CoreV1().Secrets("default").Get(ctx, "s-n2", metav1.GetOptions{})
	wantForbidden(t, "n1 reads n2's pod's Secret", err, `no relationship found between node 'n1' and this object`)
	_, err = n1.CoreV1().ConfigMaps("default").Get(ctx, "cm-n2", metav1.GetOptions{})
	wantForbidden(t, "n1 reads n2's pod's ConfigMap", err, "")
	_, err = n1.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
	wantForbidden(t, "n1 lists Secrets", err, "")
	// What every node may: read nodes, pods, services.
	if _, err := n1.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=n1"}); err != nil {
		t.Errorf("n1 lists its pods: %v", err)
	}
	if _, err := n1.CoreV1().Services("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("n1 lists services: %v", err)
	}

	// Nodes: its own, yes (not the restricted labels); another, no.
	own, err := n1.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	own.Labels = map[string]string{"team": "ci"}
	if own, err = n1.CoreV1().Nodes().Update(ctx, own, metav1.UpdateOptions{}); err != nil {
		t.Errorf("n1 updates its own Node: %v", err)
	}
	own.Labels["node-restriction.kubernetes.io/trusted"] = "yes"
	_, err = n1.CoreV1().Nodes().Update(ctx, own, metav1.UpdateOptions{})
	wantForbidden(t, "n1 sets a node-restriction label", err, `is not allowed to modify labels: node-restriction.kubernetes.io/trusted`)
	other, err := n1.CoreV1().Nodes().Get(ctx, "n2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other.Labels = map[string]string{"evil": "yes"}
	_, err = n1.CoreV1().Nodes().Update(ctx, other, metav1.UpdateOptions{})
	wantForbidden(t, "n1 updates n2", err, `node "n1" is not allowed to modify node "n2"`)
	_, err = n1.CoreV1().Nodes().UpdateStatus(ctx, other, metav1.UpdateOptions{})
	wantForbidden(t, "n1 updates n2's status", err, `node "n1" is not allowed to modify node "n2"`)
	err = n1.CoreV1().Nodes().Delete(ctx, "n2", metav1.DeleteOptions{})
	wantForbidden(t, "n1 deletes n2", err, `node "n1" is not allowed to delete node "n2"`)

	// Pods: no creation; status and deletion of its own only.
	_, err = n1.CoreV1().Pods("default").Create(ctx, podUsing("sneaky", "n1", "s-n2", "cm-n2"), metav1.CreateOptions{})
	wantForbidden(t, "n1 creates a pod", err, `node "n1" can only create mirror pods`)
	p2, err := n1.CoreV1().Pods("default").Get(ctx, "p-n2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p2.Status.Message = "hijacked"
	_, err = n1.CoreV1().Pods("default").UpdateStatus(ctx, p2, metav1.UpdateOptions{})
	wantForbidden(t, "n1 updates n2's pod's status", err, `can only update pod status for pods with spec.nodeName set to itself`)
	err = n1.CoreV1().Pods("default").Delete(ctx, "p-n2", metav1.DeleteOptions{})
	wantForbidden(t, "n1 deletes n2's pod", err, `can only delete pods with spec.nodeName set to itself`)
	p1, err := n1.CoreV1().Pods("default").Get(ctx, "p-n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1.Status.Message = "fine"
	if _, err := n1.CoreV1().Pods("default").UpdateStatus(ctx, p1, metav1.UpdateOptions{}); err != nil {
		t.Errorf("n1 updates its pod's status: %v", err)
	}
	// Tokens: only bound to its own pods.
	_, err = n1.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: "p-n2", UID: p2.UID}}}, metav1.CreateOptions{})
	wantForbidden(t, "n1 asks a token bound to n2's pod", err, "bound to a pod scheduled on a different node")
	if _, err := n1.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: "p-n1", UID: p1.UID}}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("n1 asks a token for its pod: %v", err)
	}

	// Leases: its own only.
	lease := func(name string) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease}}
	}
	if _, err := n1.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease("n1"), metav1.CreateOptions{}); err != nil {
		t.Errorf("n1 creates its Lease: %v", err)
	}
	_, err = n1.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease("n2"), metav1.CreateOptions{})
	wantForbidden(t, "n1 creates n2's Lease", err, "can only access node lease with the same name as the requesting node")

	// The pod goes: so does n1's access to its Secret (the graph follows the watch).
	if err := admin.CoreV1().Pods("default").Delete(ctx, "p-n1", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "n1 loses its deleted pod's Secret", func() (bool, error) {
		_, err := n1.CoreV1().Secrets("default").Get(ctx, "s-n1", metav1.GetOptions{})
		return apierrors.IsForbidden(err), nil
	})
}

// NodeRestriction holds whatever the authorization mode: with AlwaysAllow a node still cannot
// modify another Node or create pods.
func TestNodeRestrictionWithAlwaysAllow(t *testing.T) {
	t.Parallel()
	srv := apiservertest.StartConfig(t, apiserver.RunConfig{AuthorizationMode: apiserver.AuthorizationModeAlwaysAllow})
	admin := clientFor(t, srv.Config)
	ctx := testCtx(t)
	if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n1 := asNode(t, srv, "n1")
	other, err := n1.CoreV1().Nodes().Get(ctx, "n2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other.Labels = map[string]string{"evil": "yes"}
	_, err = n1.CoreV1().Nodes().Update(ctx, other, metav1.UpdateOptions{})
	wantForbidden(t, "n1 updates n2", err, `node "n1" is not allowed to modify node "n2"`)
	_, err = n1.CoreV1().Pods("default").Create(ctx, newPod("sneaky", nil), metav1.CreateOptions{})
	wantForbidden(t, "n1 creates a pod", err, "can only create mirror pods")
}
