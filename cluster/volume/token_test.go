//go:build linux

package volume

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// TestServiceAccountToken: the kube-api-access volume's token is requested through
// TokenRequest, bound to the pod, for the projection's audience and expiry; it is reused until
// 80 % of its lifetime has passed and then replaced in the file, and RefreshAfter says when.
func TestServiceAccountToken(t *testing.T) {
	needTmpfs(t)
	m, client := newManager(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "kube-root-ca.crt"},
		Data: map[string]string{"ca.crt": "CA"}})
	now := time.Unix(1_700_000_000, 0)
	m.Now = func() time.Time { return now }
	var asked []*authenticationv1.TokenRequest
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		asked = append(asked, tr)
		tr.Status.Token = fmt.Sprintf("token-%d", len(asked))
		tr.Status.ExpirationTimestamp = metav1.NewTime(now.Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))
		return true, tr, nil
	})
	vol := corev1.Volume{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr(int32(0o644)),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(3607))}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{fieldItem("namespace", "metadata.namespace")}}},
		}}}}
	pod := newPod("u1", vol)
	pod.Spec.ServiceAccountName = "default"
	dir := mustSetup(t, m, pod)[vol.Name].HostPath
	for file, want := range map[string]string{"token": "token-1", "ca.crt": "CA", "namespace": "ns"} {
		if got := readFile(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if len(asked) != 1 {
		t.Fatalf("%d token requests", len(asked))
	}
	ref := asked[0].Spec.BoundObjectRef
	if ref == nil || ref.Kind != "Pod" || ref.APIVersion != "v1" || ref.Name != "web" || ref.UID != "u1" ||
		*asked[0].Spec.ExpirationSeconds != 3607 || len(asked[0].Spec.Audiences) != 0 {
		t.Fatalf("token request %+v", asked[0].Spec)
	}
	// 80 % of 3607 s is 2885.6 s.
	if d := m.RefreshAfter("u1"); d != 2885600*time.Millisecond {
		t.Errorf("RefreshAfter = %s, want 48m5.6s", d)
	}
	now = now.Add(2885 * time.Second)
	mustSetup(t, m, pod)
	if len(asked) != 1 || readFile(t, filepath.Join(dir, "token")) != "token-1" {
		t.Fatalf("refreshed before 80 %%: %d requests", len(asked))
	}
	now = now.Add(time.Second)
	mustSetup(t, m, pod)
	if len(asked) != 2 || readFile(t, filepath.Join(dir, "token")) != "token-2" {
		t.Fatalf("not refreshed after 80 %%: %d requests, token %q", len(asked), readFile(t, filepath.Join(dir, "token")))
	}
	if err := m.Teardown(t.Context(), "u1"); err != nil {
		t.Fatal(err)
	}
	if d := m.RefreshAfter("u1"); d != 0 {
		t.Errorf("RefreshAfter after teardown = %s", d)
	}
}
