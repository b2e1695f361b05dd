package scheduler

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/internal/logtest"
)

var podsGVR = corev1.SchemeGroupVersion.WithResource("pods")

// fixture runs the scheduler controller over a fake clientset whose pods/binding reactor sets
// spec.nodeName the way the API server does (unless bindingsVisible is false: then the
// informer never sees the pods bound and only the assumed pods keep the count).
type fixture struct {
	t        *testing.T
	client   *fake.Clientset
	recorder *record.FakeRecorder
	clock    *testingclock.FakeClock
	ctrl     *Controller

	mu         sync.Mutex
	failBinds  int // the next failBinds bindings fail with a 500
	hideBinds  bool
	events     []string
	eventsDone chan struct{}
}

func newFixture(t *testing.T, hideBinds bool, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{t: t, client: fake.NewSimpleClientset(objs...), recorder: record.NewFakeRecorder(10000),
		clock: testingclock.NewFakeClock(time.Unix(1_700_000_000, 0)), hideBinds: hideBinds, eventsDone: make(chan struct{})}
	f.client.PrependReactor("create", "pods", f.bindReactor)
	factory := informers.NewSharedInformerFactory(f.client, 0)
	c, err := NewController(controller.Context{Logger: logtest.New(t), Client: f.client, Informers: factory, Clock: f.clock,
		Recorder: func(string) record.EventRecorder { return f.recorder }})
	if err != nil {
		t.Fatal(err)
	}
	f.ctrl = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(f.eventsDone)
		for {
			select {
			case e := <-f.recorder.Events:
				f.mu.Lock()
				f.events = append(f.events, e)
				f.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	factory.Start(ctx.Done())
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; factory.Shutdown(); <-f.eventsDone })
	return f
}

func (f *fixture) bindReactor(a k8stesting.Action) (bool, runtime.Object, error) {
	ca, ok := a.(k8stesting.CreateAction)
	if !ok || a.GetSubresource() != "binding" {
		return false, nil, nil
	}
	b := ca.GetObject().(*corev1.Binding)
	f.mu.Lock()
	fail, hide := f.failBinds > 0, f.hideBinds
	if fail {
		f.failBinds--
	}
	f.mu.Unlock()
	if fail {
		return true, nil, apierrors.NewInternalError(context.DeadlineExceeded)
	}
	obj, err := f.client.Tracker().Get(podsGVR, b.Namespace, b.Name)
	if err != nil {
		return true, nil, err
	}
	pod := obj.(*corev1.Pod).DeepCopy()
	if pod.Spec.NodeName != "" {
		return true, nil, apierrors.NewConflict(podsGVR.GroupResource(), b.Name, context.Canceled)
	}
	if hide {
		return true, b, nil
	}
	pod.Spec.NodeName = b.Target.Name
	return true, b, f.client.Tracker().Update(podsGVR, pod, b.Namespace)
}

// bindings returns pod → node of every binding posted so far.
func (f *fixture) bindings() map[string]string {
	out := map[string]string{}
	for _, a := range f.client.Actions() {
		if ca, ok := a.(k8stesting.CreateAction); ok && a.GetSubresource() == "binding" {
			b := ca.GetObject().(*corev1.Binding)
			out[b.Name] = b.Target.Name
		}
	}
	return out
}

// statusUpdates returns the pods written through pods/status.
func (f *fixture) statusUpdates() []*corev1.Pod {
	var out []*corev1.Pod
	for _, a := range f.client.Actions() {
		if ua, ok := a.(k8stesting.UpdateAction); ok && a.GetSubresource() == "status" && a.GetResource() == podsGVR {
			out = append(out, ua.GetObject().(*corev1.Pod))
		}
	}
	return out
}

func (f *fixture) eventsWith(substr string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.events {
		if strings.Contains(e, substr) {
			out = append(out, e)
		}
	}
	return out
}
