//go:build linux

package volume

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func claim(name, volume string, bound bool) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: "claim-uid"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeName: volume}}
	if bound {
		c.Status.Phase = corev1.ClaimBound
	} else {
		c.Status.Phase = corev1.ClaimPending
	}
	return c
}

func pv(name string, src corev1.PersistentVolumeSource) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: src}}
}

func claimPod(claims ...string) *corev1.Pod {
	pod := newPod("u1")
	for i, c := range claims {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "v" + string(rune('0'+i)), VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c, ReadOnly: i == 1}}})
	}
	return pod
}

func TestClaimHostPathAndLocal(t *testing.T) {
	base := t.TempDir()
	hostDir := filepath.Join(base, "pv-data", "jenkins")
	localDir := filepath.Join(base, "disk")
	if err := os.Mkdir(localDir, 0o700); err != nil {
		t.Fatal(err)
	}
	local := pv("local", corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: localDir}})
	local.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
		{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{"other"}}}},
		{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{testNode}}}},
	}}}
	host := pv("host", corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}})
	host.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "ns", Name: "home", UID: "claim-uid"}
	m, _ := newManager(t, claim("home", "host", true), claim("disk", "local", true), host, local)
	srcs := mustSetup(t, m, claimPod("home", "disk"))
	if srcs["v0"] != (Source{HostPath: hostDir}) {
		t.Errorf("hostPath PV source = %+v", srcs["v0"])
	}
	if srcs["v1"] != (Source{HostPath: localDir, ReadOnly: true}) {
		t.Errorf("local PV source = %+v (readOnly from the claim volume source)", srcs["v1"])
	}
	if got := modeOf(t, hostDir); got != 0o755 {
		t.Errorf("hostPath PV dir made with mode %o, want 755", got)
	}
}

func TestClaimErrors(t *testing.T) {
	base := t.TempDir()
	elsewhere := pv("elsewhere", corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: base}})
	elsewhere.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
		{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{"other"}}}}}}}
	taken := pv("taken", corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: base}})
	taken.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "ns", Name: "someone-else"}
	m, _ := newManager(t,
		claim("pending", "", false), claim("nfs", "nfs", true), claim("gone", "local-gone", true),
		claim("far", "elsewhere", true), claim("stolen", "taken", true),
		pv("nfs", corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "/x"}}),
		pv("local-gone", corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: filepath.Join(base, "nope")}}),
		elsewhere, taken,
	)
	got := setupErr(t, m, claimPod("pending", "nfs", "gone", "far", "stolen", "absent"))
	for _, want := range []string{
		`volume "v0": persistentvolumeclaim "pending" is not bound`,
		`volume "v1": persistentvolume "nfs": nfs volumes are not supported on this node`,
		`volume "v2": persistentvolume "local-gone": local volume path ` + filepath.Join(base, "nope"),
		`volume "v3": persistentvolume "elsewhere": volume node affinity conflict`,
		`volume "v4": persistentvolume "taken" is bound to claim ns/someone-else`,
		`volume "v5": couldn't get persistentvolumeclaim ns/absent`,
	} {
		wantContains(t, got, want)
	}
	if _, err := os.Stat(filepath.Join(base, "nope")); !os.IsNotExist(err) {
		t.Errorf("a missing local PV path was created")
	}
}

func TestClaimBoundLater(t *testing.T) {
	base := t.TempDir()
	m, client := newManager(t, claim("home", "", false),
		pv("host", corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: base}}))
	pod := claimPod("home")
	setupErr(t, m, pod)
	// Bound by hand, as the tests of the node agent do until the binder exists.
	if _, err := client.CoreV1().PersistentVolumeClaims("ns").Update(context.Background(), claim("home", "host", true), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := mustSetup(t, m, pod)["v0"].HostPath; got != base {
		t.Errorf("HostPath = %q, want %q", got, base)
	}
}

func TestNodeAffinityUsesNodeLabels(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode, Labels: map[string]string{"disk": "ssd", "rack": "7"}}}
	term := func(reqs ...corev1.NodeSelectorRequirement) *corev1.PersistentVolume {
		p := pv("p", corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/"}})
		p.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: reqs}}}}
		return p
	}
	req := func(key string, op corev1.NodeSelectorOperator, vals ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: vals}
	}
	m, _ := newManager(t, node)
	for _, tc := range []struct {
		pv *corev1.PersistentVolume
		ok bool
	}{
		{term(req("disk", corev1.NodeSelectorOpIn, "ssd"), req(corev1.LabelHostname, corev1.NodeSelectorOpIn, testNode)), true},
		{term(req("disk", corev1.NodeSelectorOpNotIn, "ssd")), false},
		{term(req("gpu", corev1.NodeSelectorOpDoesNotExist), req("rack", corev1.NodeSelectorOpGt, "5")), true},
		{term(req("rack", corev1.NodeSelectorOpLt, "5")), false},
		{term(req("gpu", corev1.NodeSelectorOpExists)), false},
	} {
		err := m.checkNodeAffinity(context.Background(), tc.pv)
		if (err == nil) != tc.ok {
			t.Errorf("%+v: err = %v, want ok=%v", tc.pv.Spec.NodeAffinity.Required.NodeSelectorTerms, err, tc.ok)
		}
	}
}
