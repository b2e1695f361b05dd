package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func localPV(name, node string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/srv/" + name}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
				expr("kubernetes.io/hostname", corev1.NodeSelectorOpIn, node),
			}}},
		},
	}
}

func claim(name, volume string, phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PersistentVolumeClaimSpec{VolumeName: volume},
		Status:     corev1.PersistentVolumeClaimStatus{Phase: phase},
	}
}

func TestScheduleVolumes(t *testing.T) {
	nfs := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "nfs"}, Spec: corev1.PersistentVolumeSpec{
		PersistentVolumeSource: corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nas", Path: "/x"}}}}
	pendingDone := claim("half", "home-b", corev1.ClaimPending)
	pendingDone.Annotations = map[string]string{"pv.kubernetes.io/bind-completed": "yes"}
	deleting := claim("gone", "home-b", corev1.ClaimBound)
	deleting.DeletionTimestamp = &metav1.Time{}
	pvs := []*corev1.PersistentVolume{localPV("home-b", "node-b"), localPV("home-c", "node-c"), nfs}
	pvcs := []*corev1.PersistentVolumeClaim{
		claim("jenkins-home", "home-b", corev1.ClaimBound), claim("other", "home-c", corev1.ClaimBound),
		claim("shared", "nfs", corev1.ClaimBound), claim("waiting", "", corev1.ClaimPending),
		claim("lost", "missing-pv", corev1.ClaimBound), pendingDone, deleting,
	}
	cases := []struct {
		name, want, wantErr string
		pod                 *corev1.Pod
		nodes               []*corev1.Node
	}{
		{name: "local PV pins the pod", pod: newPod("p", withClaim("jenkins-home")), want: "node-b"},
		{name: "bind-completed claim with lagging phase", pod: newPod("p", withClaim("half")), want: "node-b"},
		{name: "PV without node affinity", pod: newPod("p", withClaim("shared"), withNodeSelector("kubernetes.io/hostname", "node-a")), want: "node-a"},
		{name: "two local PVs on different nodes", pod: newPod("p", withClaim("jenkins-home"), withClaim("other")),
			wantErr: "0/3 nodes are available: 3 node(s) had volume node affinity conflict."},
		{name: "the PV's node is full", pod: newPod("p", withClaim("jenkins-home"), withRequests("", "6Gi")),
			nodes:   []*corev1.Node{hollowNode("node-a"), hollowNode("node-b", withAlloc("4", "4Gi", "110")), hollowNode("node-c")},
			wantErr: "0/3 nodes are available: 1 Insufficient memory, 2 node(s) had volume node affinity conflict."},
		{name: "unbound claim", pod: newPod("p", withClaim("jenkins-home"), withClaim("waiting")),
			wantErr: "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."},
		{name: "missing claim", pod: newPod("p", withClaim("nope")),
			wantErr: `0/3 nodes are available: persistentvolumeclaim "nope" not found.`},
		{name: "claim being deleted", pod: newPod("p", withClaim("gone")),
			wantErr: `0/3 nodes are available: persistentvolumeclaim "gone" is being deleted.`},
		{name: "missing volume", pod: newPod("p", withClaim("lost")),
			wantErr: `0/3 nodes are available: persistentvolume "missing-pv" not found.`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nodes := tc.nodes
			if nodes == nil {
				nodes = threeNodes()
			}
			s := snapshotOf(nodes)
			for _, pv := range pvs {
				s.SetPV(pv)
			}
			for _, c := range pvcs {
				s.SetPVC(c)
			}
			got, err := Schedule(tc.pod, s)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Schedule = %q, %v; want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Schedule = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestSnapshotVolumeChanges(t *testing.T) {
	s := snapshotOf(threeNodes())
	p := newPod("p", withClaim("home"))
	s.SetPVC(claim("home", "", corev1.ClaimPending))
	if _, err := Schedule(p, s); err == nil || err.Error() != "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims." {
		t.Fatalf("unbound: %v", err)
	}
	s.SetPV(localPV("home-c", "node-c"))
	s.SetPVC(claim("home", "home-c", corev1.ClaimBound))
	if got, err := Schedule(p, s); err != nil || got != "node-c" {
		t.Fatalf("bound: %q, %v", got, err)
	}
	s.RemovePVC("default", "home")
	if _, err := Schedule(p, s); err == nil {
		t.Fatal("scheduled with the claim removed")
	}
}
