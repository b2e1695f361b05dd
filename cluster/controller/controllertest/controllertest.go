// Package controllertest holds the fixtures the controller tests share: a controller Context
// over a fake clientset whose informer caches the test fills by hand (the sample-controller
// style), and a controller run against a real, in-process API server.
package controllertest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/internal/logtest"
)

// Fake is what a controller under a unit test is built from: a fake clientset, an informer
// factory over it that is never started (nothing reaches its caches unless the test puts it
// there with Cache), a fake clock and an event recorder.
type Fake struct {
	Client    *fake.Clientset
	Informers informers.SharedInformerFactory
	Clock     *testingclock.FakeClock
	Recorder  *record.FakeRecorder
}

// NewFake is a Fake whose clientset holds objs, whose clock reads now and whose recorder
// buffers up to events events (recording more blocks until the test drains them with Events).
// The objs are not in the informer caches: Cache puts them there.
func NewFake(now time.Time, events int, objs ...runtime.Object) *Fake {
	client := fake.NewSimpleClientset(objs...)
	return &Fake{
		Client:    client,
		Informers: informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(controller.StripManagedFields)),
		Clock:     testingclock.NewFakeClock(now),
		Recorder:  record.NewFakeRecorder(events),
	}
}

// Context is the controller Context over f; every component records to f.Recorder.
func (f *Fake) Context() controller.Context {
	return controller.Context{Client: f.Client, Informers: f.Informers, Clock: f.Clock,
		Recorder: func(string) record.EventRecorder { return f.Recorder }}
}

// Build builds a controller with newController from f's Context, logging to t, and returns it
// as C, its concrete type; it fails t when building fails.
func Build[C controller.Controller](t testing.TB, f *Fake, newController func(controller.Context) (C, error)) C {
	t.Helper()
	cc := f.Context()
	cc.Logger = logtest.New(t)
	c, err := newController(cc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NamePods makes the clientset name the pods created with only a GenerateName as the API
// server would: GenerateName followed by a five-digit sequence number (1, 2, ...), which is
// also the pod's UID.
func (f *Fake) NamePods() {
	var seq atomic.Int32
	f.Client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			pod.Name = fmt.Sprintf("%s%05d", pod.GenerateName, seq.Add(1))
			pod.UID = types.UID(pod.Name)
		}
		return false, nil, nil
	})
}

// Cache puts objects into the informer caches, as watch events would. Any kind of client-go's
// scheme goes to the informer of its resource (ForResource).
func (f *Fake) Cache(t testing.TB, objs ...runtime.Object) {
	t.Helper()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Pod:
			err = f.Informers.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *corev1.ReplicationController:
			err = f.Informers.Core().V1().ReplicationControllers().Informer().GetIndexer().Add(o)
		case *batchv1.Job:
			err = f.Informers.Batch().V1().Jobs().Informer().GetIndexer().Add(o)
		case *batchv1.CronJob:
			err = f.Informers.Batch().V1().CronJobs().Informer().GetIndexer().Add(o)
		default:
			err = f.cacheAny(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// cacheAny adds o to the shared informer of its kind's resource.
func (f *Fake) cacheAny(o runtime.Object) error {
	gvks, _, err := scheme.Scheme.ObjectKinds(o)
	if err != nil {
		return err
	}
	gvr, _ := meta.UnsafeGuessKindToResource(gvks[0])
	inf, err := f.Informers.ForResource(gvr)
	if err != nil {
		return err
	}
	return inf.Informer().GetIndexer().Add(o)
}

// Events drains the events recorded so far.
func (f *Fake) Events() []string {
	var out []string
	for {
		select {
		case e := <-f.Recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// Run starts a real API server (apiservertest.Start), builds a controller with newController
// over a clientset of it and shared informers, logging to t (newController may set more of the
// Context, such as a Clock, before building), starts the informers and runs the controller until
// the test ends.
func Run[C controller.Controller](t testing.TB, newController func(controller.Context) (C, error)) (
	*apiservertest.Server, kubernetes.Interface) {
	t.Helper()
	srv := apiservertest.Start(t)
	cs, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(cs, 0)
	c, err := newController(controller.Context{Client: cs, Informers: factory, Logger: logtest.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; factory.Shutdown() })
	factory.Start(ctx.Done())
	go func() { defer close(done); _ = c.Run(ctx) }()
	return srv, cs
}
