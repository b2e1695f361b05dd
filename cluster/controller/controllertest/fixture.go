package controllertest

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/drover-ci/drover/cluster/controller"
)

// Fixture is a controller of concrete type C built over a Fake for the test T: what the
// controllers' sample-controller-style unit tests share. A package's fixture embeds it and adds
// its sync.
type Fixture[C controller.Controller] struct {
	*Fake
	T testing.TB
	C C
}

// NewFixture builds a controller with newController over f (see Build) and puts objs into
// f's informer caches (usually the objects f's clientset was made with).
func NewFixture[C controller.Controller](t testing.TB, f *Fake,
	newController func(controller.Context) (C, error), objs ...runtime.Object) *Fixture[C] {
	t.Helper()
	x := &Fixture[C]{Fake: f, T: t, C: Build[C](t, f, newController)}
	f.Cache(t, objs...)
	return x
}

// Put puts objects into the informer caches, as watch events would (see Cache).
func (x *Fixture[C]) Put(objs ...runtime.Object) {
	x.T.Helper()
	x.Cache(x.T, objs...)
}

// Actions clears the clientset's recorded actions, runs sync with the test's context (failing
// the test with what and the error when it fails) and returns the actions it issued.
func (x *Fixture[C]) Actions(what string, sync func(context.Context) error) []k8stesting.Action {
	x.T.Helper()
	x.Client.ClearActions()
	if err := sync(x.T.Context()); err != nil {
		x.T.Fatalf("%s: %v", what, err)
	}
	return x.Client.Actions()
}

// Created is the objects the actions created in resource ("pods", "jobs"), as T.
func Created[T runtime.Object](actions []k8stesting.Action, resource string) []T {
	var out []T
	for _, a := range actions {
		if a.GetVerb() == "create" && a.GetResource().Resource == resource {
			out = append(out, a.(k8stesting.CreateAction).GetObject().(T))
		}
	}
	return out
}

// Deleted is the names of the objects the actions deleted in resource, in their order.
func Deleted(actions []k8stesting.Action, resource string) []string {
	var out []string
	for _, a := range actions {
		if a.GetVerb() == "delete" && a.GetResource().Resource == resource {
			out = append(out, a.(k8stesting.DeleteAction).GetName())
		}
	}
	return out
}

// LastStatus is the object the last status update among the actions wrote, as T, and whether
// there was one.
func LastStatus[T runtime.Object](actions []k8stesting.Action) (T, bool) {
	var last T
	found := false
	for _, a := range actions {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			last, found = a.(k8stesting.UpdateAction).GetObject().(T), true
		}
	}
	return last, found
}
