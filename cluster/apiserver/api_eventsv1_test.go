package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/watch"
)

func newEventsV1Event(name string) *eventsv1.Event {
	return &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		EventTime:  metav1.NewMicroTime(time.Now()),
		Regarding:  corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1", APIVersion: "v1"},
		Reason:     "Scheduled", Note: "Successfully assigned default/web-1 to node-1", Type: corev1.EventTypeNormal,
		Action: "Binding", ReportingController: "default-scheduler", ReportingInstance: "default-scheduler-host",
	}
}

// TestEventsV1SharesCoreEvents: events.k8s.io/v1 events are the core/v1 events converted as in
// Kubernetes: one written through either version is read through the other (regarding ↔
// involvedObject, note ↔ message, the deprecated fields ↔ source, timestamps and count), lists,
// watches and deletes see one set of objects, field selectors take the events.k8s.io labels,
// and writes through events.k8s.io/v1 are validated by its stricter rules.
func TestEventsV1SharesCoreEvents(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	v1ev, core := cs.EventsV1().Events("default"), cs.CoreV1().Events("default")

	w, err := v1ev.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	created, err := v1ev.Create(ctx, newEventsV1Event("sched"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := core.Get(ctx, "sched", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Message != created.Note || c.InvolvedObject.Name != "web-1" || c.ReportingController != "default-scheduler" || c.Action != "Binding" ||
		c.EventTime.IsZero() || c.ResourceVersion != created.ResourceVersion || c.UID != created.UID {
		t.Errorf("core view of an events.k8s.io event: %+v", c)
	}

	legacy := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "pulled"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-2"},
		Reason: "Pulled", Message: "pulled busybox", Type: corev1.EventTypeNormal, Count: 3,
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second)), LastTimestamp: metav1.NewTime(time.Now().Truncate(time.Second))}
	if _, err := core.Create(ctx, legacy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e, err := v1ev.Get(ctx, "pulled", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Note != "pulled busybox" || e.Regarding.Name != "web-2" || e.DeprecatedCount != 3 || e.DeprecatedSource.Host != "node-1" ||
		!e.DeprecatedFirstTimestamp.Equal(&legacy.FirstTimestamp) || !e.DeprecatedLastTimestamp.Equal(&legacy.LastTimestamp) {
		t.Errorf("events.k8s.io view of a core event: %+v", e)
	}
	for _, want := range []string{"sched", "pulled"} {
		select {
		case got := <-w.ResultChan():
			ev, ok := got.Object.(*eventsv1.Event)
			if got.Type != watch.Added || !ok || ev.Name != want {
				t.Errorf("watch: %s %T, want ADDED %s", got.Type, got.Object, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no watch event for %s", want)
		}
	}

	list, err := v1ev.List(ctx, metav1.ListOptions{FieldSelector: "regarding.name=web-1,reportingController=default-scheduler,type=Normal"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "sched" {
		t.Errorf("field selector on regarding.name: %v %v", list, err)
	}
	list, err = v1ev.List(ctx, metav1.ListOptions{FieldSelector: "reason=Pulled"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "pulled" {
		t.Errorf("field selector on reason: %v %v", list, err)
	}
	_, err = v1ev.List(ctx, metav1.ListOptions{FieldSelector: "source=kubelet"})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "field label not supported: source") {
		t.Errorf("events.k8s.io selector on source: %v, want 400", err)
	}
	clist, err := core.List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=web-1"})
	if err != nil || len(clist.Items) != 1 || clist.Items[0].Name != "sched" {
		t.Errorf("core field selector: %v %v", clist, err)
	}

	// events.k8s.io/v1's own rules: eventTime required, the deprecated fields unset, the
	// note immutable; a series may be added.
	bad := newEventsV1Event("bad")
	bad.EventTime = metav1.MicroTime{}
	bad.DeprecatedCount = 2
	_, err = v1ev.Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || err.Error() != `Event.events.k8s.io "bad" is invalid: [eventTime: Required value, count: Invalid value: "": needs to be unset]` {
		t.Errorf("events.k8s.io event without eventTime: %v", err)
	}
	created.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(time.Now())}
	updated, err := v1ev.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("series added: %v", err)
	}
	updated.Note = "something else"
	_, err = v1ev.Update(ctx, updated, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || err.Error() != `Event.events.k8s.io "sched" is invalid: message: Invalid value: "something else": field is immutable` {
		t.Errorf("note changed: %v", err)
	}
	// Through core/v1 the legacy rules apply, as in Kubernetes.
	c, err = core.Get(ctx, "sched", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Series == nil || c.Series.Count != 2 {
		t.Errorf("series through core: %+v", c.Series)
	}
	c.Message = "rewritten"
	if _, err := core.Update(ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Errorf("core update of the message: %v", err)
	}

	if err := v1ev.Delete(ctx, "pulled", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Get(ctx, "pulled", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("core event after its events.k8s.io delete: %v", err)
	}
}

// TestEventsV1Expire: an event created through events.k8s.io/v1 expires after the event TTL as
// a core one does.
func TestEventsV1Expire(t *testing.T) {
	const ttl = 30 * time.Minute
	st, c := startEventTTL(t, ttl)
	ctx := context.Background()
	if _, err := c.EventsV1().Events("default").Create(ctx, newEventsV1Event("e1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Expire(ctx, time.Now().Add(ttl+time.Minute)); err != nil || n != 1 {
		t.Fatalf("Expire after the TTL: %d, %v; want the Event", n, err)
	}
	if _, err := c.EventsV1().Events("default").Get(ctx, "e1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("GET of the expired Event: %v, want 404", err)
	}
}

// TestEventsV1WebhookEquivalent: core/v1 and events.k8s.io/v1 events are one resource for
// matchPolicy Equivalent, as kube-apiserver's cohabiting resources: a webhook whose rule names
// core events sees an events.k8s.io create, converted to a core/v1 Event.
func TestEventsV1WebhookEquivalent(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	var seen atomic.Value
	url, ca, _ := webhookServer(t, func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		var obj corev1.Event
		_ = json.Unmarshal(req.Object.Raw, &obj)
		seen.Store(fmt.Sprintf("%s %s %s %s", req.Kind, req.RequestKind, obj.APIVersion, obj.Message))
		return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{Message: "no events today"}}
	})
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "events"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "events.example.com", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"events"}}}},
			SideEffects: sideEffectsNone(), AdmissionReviewVersions: []string{"v1"},
		}}}
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	retryUntil(t, ctx, "the core events webhook on an events.k8s.io event", func() error {
		_, err := cs.EventsV1().Events("default").Create(ctx, newEventsV1Event("hooked"), metav1.CreateOptions{})
		if err == nil {
			_ = cs.EventsV1().Events("default").Delete(ctx, "hooked", metav1.DeleteOptions{})
			return fmt.Errorf("created")
		}
		if !strings.Contains(err.Error(), "no events today") {
			return err
		}
		return nil
	})
	want := "/v1, Kind=Event events.k8s.io/v1, Kind=Event v1 Successfully assigned default/web-1 to node-1"
	if got, _ := seen.Load().(string); got != want {
		t.Errorf("the webhook saw %q, want %q", got, want)
	}
}

// TestEventsV1Lifecycle follows the conformance specs "Events API should ensure that an event
// can be fetched, patched, deleted, and listed" and "should delete a collection of events":
// an event regarding only a namespace, listed in all namespaces and in its own, found through
// the core source field (its reportingController) and events.k8s.io's reportingController,
// its series added by a strategic merge patch and changed by an update (through either
// version), read back unchanged otherwise (the generation too), deleted singly and by
// collection.
func TestEventsV1Lifecycle(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "events-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client, all := cs.EventsV1().Events("events-1"), cs.EventsV1().Events("")
	newTestEvent := func(name, label string) *eventsv1.Event {
		return &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{label: "true"}},
			Regarding: corev1.ObjectReference{Namespace: "events-1"}, EventTime: metav1.MicroTime{Time: time.Unix(1505828956, 0)},
			Note: "This is " + name, Action: "Do", Reason: "Test", Type: "Normal", ReportingController: "test-controller", ReportingInstance: "test-node"}
	}
	exists := func(c interface {
		List(context.Context, metav1.ListOptions) (*eventsv1.EventList, error)
	}) bool {
		l, err := c.List(ctx, metav1.ListOptions{LabelSelector: "testevent-constant=true"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Items {
			if e.Name == "event-test" && e.Namespace == "events-1" {
				return true
			}
		}
		return false
	}
	if _, err := client.Create(ctx, newTestEvent("event-test", "testevent-constant"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !exists(all) || !exists(client) {
		t.Fatal("the event is not listed")
	}
	core, err := cs.CoreV1().Events("events-1").List(ctx, metav1.ListOptions{FieldSelector: "source=test-controller"})
	if err != nil || len(core.Items) != 1 || core.Items[0].Name != "event-test" {
		t.Errorf("core list on source: %v %v", core, err)
	}
	filtered, err := client.List(ctx, metav1.ListOptions{FieldSelector: "reportingController=test-controller"})
	if err != nil || len(filtered.Items) != 1 || filtered.Items[0].Name != "event-test" {
		t.Errorf("events.k8s.io list on reportingController: %v %v", filtered, err)
	}

	testEvent, err := client.Get(ctx, "event-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldData, _ := json.Marshal(testEvent)
	newEvent := testEvent.DeepCopy()
	series := &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.MicroTime{Time: time.Unix(1505828951, 0)}}
	newEvent.Series = series
	newData, _ := json.Marshal(newEvent)
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, eventsv1.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Patch(ctx, "event-test", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch: %v", err)
	}
	event, err := client.Get(ctx, "event-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// As the spec: resourceVersion and managedFields are the control plane's.
	event.ResourceVersion, testEvent.ResourceVersion = "", ""
	event.ManagedFields, testEvent.ManagedFields = nil, nil
	testEvent.Series = series
	if !apiequality.Semantic.DeepEqual(testEvent, event) {
		t.Errorf("patched event (-want +got):\n%s", cmp.Diff(testEvent, event))
	}
	testEvent.Series = &eventsv1.EventSeries{Count: 100, LastObservedTime: metav1.MicroTime{Time: time.Unix(1505828956, 0)}}
	if _, err := client.Update(ctx, testEvent, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}
	event, err = client.Get(ctx, "event-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	event.ResourceVersion, event.ManagedFields = "", nil
	if !apiequality.Semantic.DeepEqual(testEvent, event) {
		t.Errorf("updated event (-want +got):\n%s", cmp.Diff(testEvent, event))
	}
	// The core spec "Event should ensure that an event can be fetched, patched, deleted, and
	// listed": an update through core/v1 without resourceVersion, read back unchanged (an
	// event's generation is never bumped, as Kubernetes' event strategy leaves it).
	coreEvent, err := cs.CoreV1().Events("events-1").Get(ctx, "event-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	coreEvent.Series = &corev1.EventSeries{Count: 101, LastObservedTime: metav1.MicroTime{Time: time.Unix(1505828957, 0)}}
	coreEvent.ResourceVersion, coreEvent.ManagedFields = "", nil
	if _, err := cs.CoreV1().Events("events-1").Update(ctx, coreEvent, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	gotCore, err := cs.CoreV1().Events("events-1").Get(ctx, "event-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gotCore.ResourceVersion, gotCore.ManagedFields = "", nil
	if !apiequality.Semantic.DeepEqual(coreEvent, gotCore) {
		t.Errorf("core update (-want +got):\n%s", cmp.Diff(coreEvent, gotCore))
	}
	if err := client.Delete(ctx, "event-test", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if exists(all) || exists(client) {
		t.Error("the deleted event is listed")
	}

	for _, name := range []string{"test-event-1", "test-event-2", "test-event-3"} {
		if _, err := client.Create(ctx, newTestEvent(name, "testevent-set"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "testevent-set=true"}); err != nil {
		t.Fatal(err)
	}
	if l, err := client.List(ctx, metav1.ListOptions{LabelSelector: "testevent-set=true"}); err != nil || len(l.Items) != 0 {
		t.Errorf("after deletecollection: %v %v", l, err)
	}
}
