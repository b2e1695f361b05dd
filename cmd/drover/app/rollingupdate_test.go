package app

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func testRC(name string, replicas int32, image string, selector map[string]string) *corev1.ReplicationController {
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "uid-" + "name"},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: selector,
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: selector},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "slave", Image: image}}},
			},
		},
		Status: corev1.ReplicationControllerStatus{Replicas: replicas, ReadyReplicas: replicas},
	}
}

// controller plays the replication manager in the fake clientset: every written RC gets
// status.replicas = spec.replicas, and readyReplicas too when ready is true. It records the
// highest total of desired replicas it saw.
type controller struct {
	mu       sync.Mutex
	ready    bool
	maxTotal int32
}

func (c *controller) install(cs *fake.Clientset) {
	react := func(a k8stesting.Action) (bool, runtime.Object, error) {
		rc := a.(interface{ GetObject() runtime.Object }).GetObject().(*corev1.ReplicationController)
		c.mu.Lock()
		defer c.mu.Unlock()
		rc.Status.Replicas = replicasOf(rc)
		rc.Status.ReadyReplicas = 0
		if c.ready {
			rc.Status.ReadyReplicas = replicasOf(rc)
		}
		return false, nil, nil
	}
	cs.PrependReactor("create", "replicationcontrollers", react)
	cs.PrependReactor("update", "replicationcontrollers", react)
	cs.AddReactor("update", "replicationcontrollers", func(k8stesting.Action) (bool, runtime.Object, error) {
		list, _ := cs.Tracker().List(corev1.SchemeGroupVersion.WithResource("replicationcontrollers"),
			corev1.SchemeGroupVersion.WithKind("ReplicationController"), "default")
		var total int32
		for _, rc := range list.(*corev1.ReplicationControllerList).Items {
			total += replicasOf(&rc)
		}
		c.mu.Lock()
		c.maxTotal = max(c.maxTotal, total)
		c.mu.Unlock()
		return false, nil, nil
	})
}

func newTestUpdater(cs *fake.Clientset, out *bytes.Buffer) *rollingUpdater {
	return &rollingUpdater{client: cs, ns: "default", out: out, updatePeriod: time.Millisecond,
		interval: time.Millisecond, timeout: 300 * time.Millisecond}
}

func TestRollingUpdateFromFile(t *testing.T) {
	old := testRC("jenkins-slave", 2, "swarm:1", map[string]string{"name": "jenkins-slave", "version": "1"})
	cs := fake.NewSimpleClientset(old)
	ctl := &controller{ready: true}
	ctl.install(cs)
	var out bytes.Buffer
	r := newTestUpdater(cs, &out)
	next := testRC("jenkins-slave-v2", 2, "swarm:2", map[string]string{"name": "jenkins-slave", "version": "2"})
	next.Status = corev1.ReplicationControllerStatus{}
	final, err := r.update(t.Context(), old, next, deleteOld)
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	want := `Created jenkins-slave-v2
Scaling up jenkins-slave-v2 from 0 to 2, scaling down jenkins-slave from 2 to 0 (keep 2 pods available, don't exceed 3 pods)
Scaling jenkins-slave-v2 up to 1
Scaling jenkins-slave down to 1
Scaling jenkins-slave-v2 up to 2
Scaling jenkins-slave down to 0
Update succeeded. Deleting jenkins-slave
`
	if d := cmp.Diff(want, out.String()); d != "" {
		t.Errorf("output (-want +got):\n%s", d)
	}
	if ctl.maxTotal > 3 {
		t.Errorf("up to %d replicas at once, want at most 3", ctl.maxTotal)
	}
	if _, err := cs.CoreV1().ReplicationControllers("default").Get(t.Context(), "jenkins-slave", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("old controller still there: %v", err)
	}
	if final.Name != "jenkins-slave-v2" || replicasOf(final) != 2 {
		t.Errorf("final controller %s with %d replicas", final.Name, replicasOf(final))
	}
	for _, a := range []string{desiredReplicasAnnotation, sourceIDAnnotation} {
		if _, ok := final.Annotations[a]; ok {
			t.Errorf("annotation %s left on the new controller", a)
		}
	}
}

// Without ready pods in the new controller, the old one is never scaled down.
func TestRollingUpdateWaitsForReadiness(t *testing.T) {
	old := testRC("a", 2, "img:1", map[string]string{"name": "a", "v": "1"})
	cs := fake.NewSimpleClientset(old)
	(&controller{ready: false}).install(cs)
	var out bytes.Buffer
	next := testRC("b", 2, "img:2", map[string]string{"name": "a", "v": "2"})
	_, err := newTestUpdater(cs, &out).update(t.Context(), old, next, deleteOld)
	if err == nil || !strings.Contains(err.Error(), "timed out waiting for any update progress") {
		t.Fatalf("err = %v", err)
	}
	got, _ := cs.CoreV1().ReplicationControllers("default").Get(t.Context(), "a", metav1.GetOptions{})
	if replicasOf(got) != 2 || got.Annotations[originalReplicasAnnotation] != "2" {
		t.Errorf("old controller: %d replicas, annotations %v", replicasOf(got), got.Annotations)
	}
	if strings.Contains(out.String(), "Scaling a down") {
		t.Errorf("scaled down without ready pods:\n%s", out.String())
	}
}

func TestRollingUpdateImageRenames(t *testing.T) {
	old := testRC("jenkins-slave", 2, "swarm:1", map[string]string{"name": "jenkins-slave"})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p1", Namespace: "default", Labels: map[string]string{"name": "jenkins-slave"}}}
	cs := fake.NewSimpleClientset(old, pod)
	(&controller{ready: true}).install(cs)
	var out bytes.Buffer
	c := &clients{typed: cs, namespace: "default"}
	o := &rollingUpdateOptions{image: imageUpdate{image: "swarm:2", deploymentKey: "deployment"},
		updatePeriod: time.Millisecond, interval: time.Millisecond, timeout: time.Second}
	if err := runRollingUpdate(t.Context(), c, Streams{Out: &out}, o, "jenkins-slave", ""); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	rcs, _ := cs.CoreV1().ReplicationControllers("default").List(t.Context(), metav1.ListOptions{})
	if len(rcs.Items) != 1 {
		t.Fatalf("%d controllers left, want 1", len(rcs.Items))
	}
	final := rcs.Items[0]
	hash := final.Spec.Selector["deployment"]
	if final.Name != "jenkins-slave" || hash == "" || final.Spec.Template.Labels["deployment"] != hash ||
		final.Spec.Template.Spec.Containers[0].Image != "swarm:2" || replicasOf(&final) != 2 {
		t.Errorf("final controller: %s selector %v image %s replicas %d", final.Name, final.Spec.Selector,
			final.Spec.Template.Spec.Containers[0].Image, replicasOf(&final))
	}
	p, _ := cs.CoreV1().Pods("default").Get(t.Context(), "p1", metav1.GetOptions{})
	if !strings.HasSuffix(p.Labels["deployment"], "-orig") {
		t.Errorf("old pod labels %v lack deployment=<hash>-orig", p.Labels)
	}
	tmp := "jenkins-slave-" + hash
	for _, want := range []string{
		"Created " + tmp + "\n",
		"Scaling " + tmp + " up to 1\n",
		"Update succeeded. Deleting old controller: jenkins-slave\n",
		"Renaming " + tmp + " to jenkins-slave\n",
		"replicationcontroller/jenkins-slave rolling updated\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestValidateNextController(t *testing.T) {
	old := testRC("a", 1, "i", map[string]string{"name": "a", "v": "1"})
	tests := []struct {
		name     string
		selector map[string]string
		want     string
	}{
		{"a", map[string]string{"name": "a", "v": "2"}, "cannot have the same name"},
		{"b", map[string]string{"name": "a", "v": "1"}, "must specify a matching key with non-equal value in Selector for a"},
		{"b", map[string]string{"other": "x"}, "must specify a matching key with non-equal value"},
		{"b", nil, "must specify a selector"},
		{"b", map[string]string{"name": "a", "v": "2"}, ""},
	}
	for _, tt := range tests {
		err := validateNextController(old, testRC(tt.name, 1, "i", tt.selector), "new.yml")
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s %v: err = %v, want %q", tt.name, tt.selector, err, tt.want)
		}
	}
}

func TestNewControllerFromImage(t *testing.T) {
	old := testRC("a", 3, "img:1", map[string]string{"name": "a"})
	if _, err := newControllerFromImage(old, imageUpdate{image: "img:1", deploymentKey: "d"}); err == nil {
		t.Error("same image without a pull policy was accepted")
	}
	n, err := newControllerFromImage(old, imageUpdate{image: "img:2", deploymentKey: "d"})
	if err != nil {
		t.Fatal(err)
	}
	h := n.Spec.Selector["d"]
	if len(h) != 32 || n.Name != "a-"+h || n.Spec.Template.Labels["d"] != h || replicasOf(n) != 3 || old.Spec.Selector["d"] != "" {
		t.Errorf("new controller %s selector %v template labels %v", n.Name, n.Spec.Selector, n.Spec.Template.Labels)
	}
}
