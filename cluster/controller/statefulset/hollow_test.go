package statefulset_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/container/hollow"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/pvbinder"
	"github.com/drover-ci/drover/cluster/controller/statefulset"
	"github.com/drover-ci/drover/cluster/nodeagent"
	"github.com/drover-ci/drover/cluster/scheduler"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestHollowStatefulSet: on a hollow node, with the scheduler and the volume binder, a
// StatefulSet's pods are scheduled once their claims are bound and run, created in order, each
// after the one before is Ready; scaling down removes the highest ordinals.
func TestHollowStatefulSet(t *testing.T) {
	srv := apiservertest.Start(t)
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan struct{}
	factory := informers.NewSharedInformerFactory(cs, 0)
	t.Cleanup(func() {
		cancel()
		for _, d := range done {
			<-d
		}
		factory.Shutdown()
	})
	run := func(r interface{ Run(context.Context) error }) {
		d := make(chan struct{})
		done = append(done, d)
		go func() { defer close(d); _ = r.Run(ctx) }()
	}
	cc := controller.Context{Client: cs, Informers: factory, Logger: logtest.New(t),
		Recorder: func(string) record.EventRecorder { return &record.FakeRecorder{} }}
	sts, err := statefulset.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	sched, err := scheduler.NewController(cc)
	if err != nil {
		t.Fatal(err)
	}
	binder, err := pvbinder.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	run(sts)
	run(sched)
	run(binder)
	rt := hollow.New(hollow.Options{})
	agent, err := nodeagent.New(nodeagent.Config{NodeName: "hollow-sts", Client: cs, Runtime: rt, Probes: rt.Prober(),
		NodeIP: "127.0.0.1", Logger: logtest.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	run(agent)

	for i := 0; i < 3; i++ {
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("hollow-pv-%d", i)},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: t.TempDir()}},
			},
		}
		if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.AppsV1().StatefulSets("default").Create(ctx, testSet(3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range pods(t, cs) {
				t.Logf("pod %s node %q phase %s containers %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.ContainerStatuses)
			}
			evs, _ := cs.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
			for _, e := range evs.Items {
				t.Logf("event %s %s %s: %s", e.InvolvedObject.Name, e.Type, e.Reason, e.Message)
			}
		}
	})
	uptest.Eventually(t, 60*time.Second, "3 ready replicas on the hollow node", func() bool {
		st := getSet(t, cs).Status
		return st.ReadyReplicas == 3 && st.CurrentRevision == st.UpdateRevision
	})
	all := pods(t, cs)
	for i := 0; i < 3; i++ {
		p := all[fmt.Sprintf("web-%d", i)]
		if p == nil || p.Spec.NodeName != "hollow-sts" || p.Status.Phase != corev1.PodRunning {
			t.Fatalf("web-%d: %+v", i, p)
		}
		if i == 0 {
			continue
		}
		// Created no earlier than the pod before it became Ready (seconds resolution).
		prev := all[fmt.Sprintf("web-%d", i-1)]
		var readyAt metav1.Time
		for _, c := range prev.Status.Conditions {
			if c.Type == corev1.PodReady {
				readyAt = c.LastTransitionTime
			}
		}
		if p.CreationTimestamp.Before(&readyAt) {
			t.Errorf("%s created at %v, before %s was Ready at %v", p.Name, p.CreationTimestamp, prev.Name, readyAt)
		}
	}
	if _, err := cs.AppsV1().StatefulSets("default").Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 60*time.Second, "scaled to web-0", func() bool {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		return err == nil && len(list.Items) == 1 && list.Items[0].Name == "web-0" && getSet(t, cs).Status.Replicas == 1
	})
}
