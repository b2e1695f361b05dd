package statefulset_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/controller/controllertest"
	"github.com/drover-ci/drover/cluster/controller/statefulset"
	"github.com/drover-ci/drover/internal/uptest"
)

func testSet(replicas int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: "web",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
}

// pods are the live (not terminating) pods of app=web, by name.
func pods(t *testing.T, cs kubernetes.Interface) map[string]*corev1.Pod {
	t.Helper()
	list, err := cs.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*corev1.Pod{}
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp == nil {
			out[list.Items[i].Name] = &list.Items[i]
		}
	}
	return out
}

func names(m map[string]*corev1.Pod) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// makeReady plays the node agent for the pod: Running and Ready.
func makeReady(t *testing.T, cs kubernetes.Interface, p *corev1.Pod) {
	t.Helper()
	p = p.DeepCopy()
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Logf("ready %s: %v", p.Name, err)
	}
}

func getSet(t *testing.T, cs kubernetes.Interface) *appsv1.StatefulSet {
	t.Helper()
	s, err := cs.AppsV1().StatefulSets("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIntegrationStatefulSet runs the controller against a real API server, playing the node
// agent: pods come in order, each only once the one before is Ready; claims per ordinal; a
// rolling update through a second ControllerRevision; scale-down from the highest ordinal with
// the claims kept; and deleting the set removes its pods and revisions (garbage collection)
// but not its claims.
func TestIntegrationStatefulSet(t *testing.T) {
	_, cs := controllertest.Run(t, statefulset.New)
	ctx := t.Context()
	set, err := cs.AppsV1().StatefulSets("default").Create(ctx, testSet(3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		want := fmt.Sprintf("web-%d", i)
		uptest.Eventually(t, 20*time.Second, want+" created", func() bool { return pods(t, cs)[want] != nil })
		// The set's status counts the new pod once the controller has seen it: no next pod yet.
		uptest.Eventually(t, 20*time.Second, "status counting "+want, func() bool {
			return getSet(t, cs).Status.Replicas == int32(i+1)
		})
		if got := names(pods(t, cs)); len(got) != i+1 {
			t.Fatalf("pods %v before %s is Ready", got, want)
		}
		makeReady(t, cs, pods(t, cs)[want])
	}
	uptest.Eventually(t, 20*time.Second, "3 ready replicas", func() bool {
		st := getSet(t, cs).Status
		return st.ReadyReplicas == 3 && st.AvailableReplicas == 3 && st.CurrentReplicas == 3 && st.ObservedGeneration == set.Generation
	})
	all := pods(t, cs)
	for i := 0; i < 3; i++ {
		p := all[fmt.Sprintf("web-%d", i)]
		if p.Spec.Hostname != p.Name || p.Spec.Subdomain != "web" || p.Labels[appsv1.StatefulSetPodNameLabel] != p.Name ||
			p.Labels[appsv1.PodIndexLabel] != fmt.Sprint(i) {
			t.Errorf("%s: hostname %q subdomain %q labels %v", p.Name, p.Spec.Hostname, p.Spec.Subdomain, p.Labels)
		}
		claim, err := cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data-"+p.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("claim of %s: %v", p.Name, err)
		} else if claim.Labels["app"] != "web" || len(claim.OwnerReferences) != 0 {
			t.Errorf("claim %s labels %v owners %v", claim.Name, claim.Labels, claim.OwnerReferences)
		}
	}

	// Rolling update: web-2, then web-1, then web-0, each after the one before is Ready.
	before := getSet(t, cs).Status.CurrentRevision
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"img:2"}]}}}}`)
	if _, err := cs.AppsV1().StatefulSets("default").Patch(ctx, "web", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var order []string
	uptest.Eventually(t, 30*time.Second, "every pod at img:2", func() bool {
		done := 0
		for _, p := range pods(t, cs) {
			if p.Spec.Containers[0].Image == "img:2" {
				if p.Status.Phase == corev1.PodPending {
					if !slices.Contains(order, p.Name) {
						order = append(order, p.Name)
					}
					makeReady(t, cs, p)
				}
				done++
			}
		}
		return done == 3
	})
	if !slices.Equal(order, []string{"web-2", "web-1", "web-0"}) {
		t.Errorf("updated in the order %v, want web-2 web-1 web-0", order)
	}
	uptest.Eventually(t, 20*time.Second, "the update revision current", func() bool {
		st := getSet(t, cs).Status
		return st.UpdateRevision != before && st.CurrentRevision == st.UpdateRevision && st.UpdatedReplicas == 3 && st.ReadyReplicas == 3
	})
	revs, err := cs.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs.Items) != 2 {
		t.Errorf("%d revisions, want 2", len(revs.Items))
	}

	// Scale to 1: web-2 goes, then web-1; claims stay.
	if _, err := cs.AppsV1().StatefulSets("default").Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "one pod left", func() bool {
		st := getSet(t, cs).Status
		return slices.Equal(names(pods(t, cs)), []string{"web-0"}) && st.Replicas == 1
	})
	claims, err := cs.CoreV1().PersistentVolumeClaims("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) != 3 {
		t.Errorf("%d claims after the scale-down, want 3", len(claims.Items))
	}

	// Deleting the set: pods and revisions go with it, claims stay (Retain).
	if err := cs.AppsV1().StatefulSets("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 20*time.Second, "pods and revisions garbage collected", func() bool {
		revs, err := cs.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{})
		return err == nil && len(revs.Items) == 0 && len(pods(t, cs)) == 0
	})
	claims, err = cs.CoreV1().PersistentVolumeClaims("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(claims.Items) != 3 {
		t.Errorf("claims after deleting the set: %d (%v), want 3", len(claims.Items), err)
	}
}
