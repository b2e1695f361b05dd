package registry

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func eventsV1TestEvent(mutate func(*eventsv1.Event)) *eventsv1.Event {
	e := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1.abc", Namespace: "default"},
		EventTime:  metav1.NewMicroTime(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)),
		Regarding:  corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1", UID: "u1", APIVersion: "v1", FieldPath: "spec.containers{web}"},
		Reason:     "Scheduled", Note: "Successfully assigned default/web-1 to node-1", Type: corev1.EventTypeNormal,
		Action: "Binding", ReportingController: "default-scheduler", ReportingInstance: "default-scheduler-host",
	}
	if mutate != nil {
		mutate(e)
	}
	return e
}

func eventsV1Lookup(t *testing.T) *Resource {
	t.Helper()
	r, ok := lookup(schema.GroupVersionResource{Group: EventsGroup, Version: "v1", Resource: "events"})
	if !ok || r.Table == nil || r.Storage == nil {
		t.Fatal("events.k8s.io/v1 events not registered as a view with a table")
	}
	return r
}

// TestEventsV1Conversion: events.k8s.io/v1 ↔ core/v1 as Kubernetes' conversion.go (regarding,
// note and the deprecated fields renamed, the rest as is), both ways without loss, stored
// under the core events' keys.
func TestEventsV1Conversion(t *testing.T) {
	res := eventsV1Lookup(t)
	if got := res.StorageGroupResource(); got != (schema.GroupResource{Resource: "events"}) {
		t.Errorf("storage group resource %v, want the core events", got)
	}
	if !res.Namespaced || res.ShortNames[0] != "ev" {
		t.Errorf("namespaced %v, short names %v", res.Namespaced, res.ShortNames)
	}
	related := &corev1.ObjectReference{Kind: "Node", Name: "node-1"}
	e := eventsV1TestEvent(func(e *eventsv1.Event) {
		e.Related = related
		e.Series = &eventsv1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(time.Date(2026, 1, 2, 3, 9, 0, 0, time.UTC))}
		e.DeprecatedSource = corev1.EventSource{Component: "kubelet", Host: "node-1"}
		e.DeprecatedFirstTimestamp = metav1.NewTime(time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC))
		e.DeprecatedLastTimestamp = metav1.NewTime(time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC))
		e.DeprecatedCount = 4
	})
	stored, err := res.Storage.ToStorage(e)
	if err != nil {
		t.Fatal(err)
	}
	c := stored.(*corev1.Event)
	want := &corev1.Event{
		ObjectMeta: e.ObjectMeta, InvolvedObject: e.Regarding, Reason: "Scheduled", Message: e.Note,
		Source: corev1.EventSource{Component: "kubelet", Host: "node-1"}, FirstTimestamp: e.DeprecatedFirstTimestamp,
		LastTimestamp: e.DeprecatedLastTimestamp, Count: 4, Type: "Normal", EventTime: e.EventTime,
		Series: &corev1.EventSeries{Count: 4, LastObservedTime: e.Series.LastObservedTime}, Action: "Binding", Related: related,
		ReportingController: "default-scheduler", ReportingInstance: "default-scheduler-host",
	}
	want.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Event"))
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("to core (-want +got):\n%s", diff)
	}
	back, err := res.Storage.FromStorage(c)
	if err != nil {
		t.Fatal(err)
	}
	e.SetGroupVersionKind(eventsv1.SchemeGroupVersion.WithKind("Event"))
	if diff := cmp.Diff(e, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	c.Related.Name = "changed"
	if e.Related.Name != "node-1" {
		t.Error("the conversion shares related with its input")
	}
}

// TestEventsV1Validate: ValidateEventCreate for an events.k8s.io/v1 request — the legacy rules
// with reportingController's own name, eventTime required, type Normal or Warning, the series
// valid, the deprecated fields unset — with the core field paths upstream reports.
func TestEventsV1Validate(t *testing.T) {
	res := eventsV1Lookup(t)
	tests := []struct {
		name   string
		mutate func(*eventsv1.Event)
		want   []string
	}{
		{"ok", nil, nil},
		{"warning", func(e *eventsv1.Event) { e.Type = corev1.EventTypeWarning }, nil},
		{"no regarding in default", func(e *eventsv1.Event) { e.Regarding = corev1.ObjectReference{} }, nil},
		{"no eventTime", func(e *eventsv1.Event) { e.EventTime = metav1.MicroTime{} }, []string{"eventTime: Required value"}},
		{"missing fields", func(e *eventsv1.Event) {
			e.ReportingController, e.ReportingInstance, e.Action, e.Reason = "", "", "", ""
		},
			[]string{"reportingController: Required value", `reportingController: Invalid value: "": name part must be non-empty`,
				`reportingController: Invalid value: "": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
				"reportingInstance: Required value", "action: Required value", "reason: Required value"}},
		{"long note", func(e *eventsv1.Event) { e.Note = strings.Repeat("n", 1025) }, []string{`message: Invalid value: "": can have at most 1024 characters`}},
		{"regarding in another namespace", func(e *eventsv1.Event) { e.Regarding.Namespace = ""; e.Namespace = "team" },
			[]string{`involvedObject.namespace: Invalid value: "": does not match event.namespace`}},
		{"bad type", func(e *eventsv1.Event) { e.Type = "Bad" }, []string{`type: Invalid value: "": has invalid value: Bad`}},
		{"deprecated fields set", func(e *eventsv1.Event) {
			e.DeprecatedFirstTimestamp, e.DeprecatedLastTimestamp = metav1.Now(), metav1.Now()
			e.DeprecatedCount, e.DeprecatedSource = 2, corev1.EventSource{Component: "kubelet"}
		}, []string{`firstTimestamp: Invalid value: "": needs to be unset`, `lastTimestamp: Invalid value: "": needs to be unset`,
			`count: Invalid value: "": needs to be unset`, `source: Invalid value: "": needs to be unset`}},
		{"bad series", func(e *eventsv1.Event) { e.Series = &eventsv1.EventSeries{Count: 1} },
			[]string{`series.count: Invalid value: "": should be at least 2`, "series.lastObservedTime: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(res.Validate(eventsV1TestEvent(tt.mutate)))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEventsV1ValidateUpdate: ValidateEventUpdate for events.k8s.io/v1 — the series may change
// (validly), everything else is immutable; eventTime only beyond the microsecond.
func TestEventsV1ValidateUpdate(t *testing.T) {
	res := eventsV1Lookup(t)
	old := eventsV1TestEvent(nil)
	for _, tc := range []struct {
		name   string
		mutate func(*eventsv1.Event)
		want   []string
	}{
		{"series", func(e *eventsv1.Event) {
			e.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(time.Now())}
		}, nil},
		{"labels", func(e *eventsv1.Event) { e.Labels = map[string]string{"a": "b"} }, nil},
		{"eventTime within the microsecond", func(e *eventsv1.Event) { e.EventTime = metav1.NewMicroTime(e.EventTime.Add(500 * time.Nanosecond)) }, nil},
		{"eventTime", func(e *eventsv1.Event) { e.EventTime = metav1.NewMicroTime(e.EventTime.Add(time.Second)) },
			[]string{`eventTime: Invalid value: 2026-01-02 03:04:06.000006 +0000 UTC: field is immutable`}},
		{"note and reason", func(e *eventsv1.Event) { e.Note, e.Reason = "other", "Other" },
			[]string{`reason: Invalid value: "Other": field is immutable`, `message: Invalid value: "other": field is immutable`,
				`reason: Invalid value: "Other": field is immutable`}},
		{"action, type and reporting", func(e *eventsv1.Event) {
			e.Action, e.Type, e.ReportingController, e.ReportingInstance = "Other", "Warning", "other", "other-1"
		}, []string{`type: Invalid value: "Warning": field is immutable`, `action: Invalid value: "Other": field is immutable`,
			`reportingController: Invalid value: "other": field is immutable`, `reportingInstance: Invalid value: "other-1": field is immutable`}},
		{"deprecated count", func(e *eventsv1.Event) { e.DeprecatedCount = 3 }, []string{`count: Invalid value: 3: field is immutable`}},
	} {
		upd := old.DeepCopy()
		tc.mutate(upd)
		if diff := cmp.Diff(tc.want, metaErrStrings(res.ValidateUpdate(upd, old))); diff != "" {
			t.Errorf("%s: errors (-want +got):\n%s", tc.name, diff)
		}
	}
	upd := old.DeepCopy()
	upd.Series = &eventsv1.EventSeries{Count: 1}
	if diff := cmp.Diff([]string{`series.count: Invalid value: "": should be at least 2`, "series.lastObservedTime: Required value"},
		metaErrStrings(res.ValidateUpdate(upd, old))); diff != "" {
		t.Errorf("bad series: errors (-want +got):\n%s", diff)
	}
}

// TestEventsV1FieldsAndTable: the field labels of Kubernetes' events.k8s.io conversion, and
// the core events' table.
func TestEventsV1FieldsAndTable(t *testing.T) {
	res := eventsV1Lookup(t)
	e := eventsV1TestEvent(nil)
	want := map[string]string{
		"regarding.kind": "Pod", "regarding.namespace": "default", "regarding.name": "web-1", "regarding.uid": "u1",
		"regarding.apiVersion": "v1", "regarding.resourceVersion": "", "regarding.fieldPath": "spec.containers{web}",
		"reason": "Scheduled", "reportingController": "default-scheduler", "type": "Normal",
	}
	if diff := cmp.Diff(want, map[string]string(res.Fields(e))); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	core := podLookup(t, "", "events")
	if diff := cmp.Diff(core.Table.Columns, res.Table.Columns); diff != "" {
		t.Errorf("columns differ from the core events' (-core +events.k8s.io):\n%s", diff)
	}
	row, err := res.Table.Row(e)
	if err != nil {
		t.Fatal(err)
	}
	wantRow, _ := core.Table.Row(EventsV1ToCore(e))
	if diff := cmp.Diff(wantRow, row); diff != "" {
		t.Errorf("row (-core +events.k8s.io):\n%s", diff)
	}
	if row[3] != "pod/web-1" || row[5] != "default-scheduler, default-scheduler-host" || row[8] != int64(1) {
		t.Errorf("row %v", row)
	}
}
