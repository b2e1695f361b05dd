package registry

import (
	"fmt"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// EventsGroup is the API group of the new-style events.
const EventsGroup = eventsv1.GroupName

// eventsV1Resource describes events.k8s.io/v1 events: a view of the core/v1 events (stored as
// core/v1 Events under their keys, as kube-apiserver stores both in one place), converted as
// Kubernetes' pkg/apis/events/v1/conversion.go does and validated by the events.k8s.io rules of
// pkg/apis/core/validation/events.go. Field paths in errors are the core Event's, as there.
func eventsV1Resource() *Resource {
	core := eventResource()
	return &Resource{
		Group: EventsGroup, Version: "v1", Resource: "events", Kind: "Event", SingularName: "event",
		ShortNames: []string{"ev"}, Namespaced: true, KeepsGeneration: true,
		New:     func() runtime.Object { return &eventsv1.Event{} },
		NewList: func() runtime.Object { return &eventsv1.EventList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			return eventValidateCreateV1(EventsV1ToCore(obj.(*eventsv1.Event)))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return eventValidateUpdateV1(EventsV1ToCore(obj.(*eventsv1.Event)), EventsV1ToCore(old.(*eventsv1.Event)))
		},
		Fields: func(obj runtime.Object) fields.Set { return eventsV1Fields(obj.(*eventsv1.Event)) },
		Table: &Table{Columns: core.Table.Columns, Row: func(obj runtime.Object) ([]interface{}, error) {
			e, ok := obj.(*eventsv1.Event)
			if !ok {
				return nil, fmt.Errorf("event table: unexpected object %T", obj)
			}
			return core.Table.Row(EventsV1ToCore(e))
		}},
		Storage: &Storage{
			Kind: corev1.SchemeGroupVersion.WithKind("Event"),
			New:  func() runtime.Object { return &corev1.Event{} },
			ToStorage: func(obj runtime.Object) (runtime.Object, error) {
				return EventsV1ToCore(obj.(*eventsv1.Event)), nil
			},
			FromStorage: func(stored runtime.Object) (runtime.Object, error) {
				return CoreToEventsV1(stored.(*corev1.Event)), nil
			},
		},
	}
}

// EventsV1ToCore converts an events.k8s.io/v1 Event to a core/v1 Event, as Kubernetes'
// Convert_v1_Event_To_core_Event: regarding is involvedObject, note the message,
// deprecatedSource/FirstTimestamp/LastTimestamp/Count source, firstTimestamp, lastTimestamp
// and count; the other fields have the same names.
func EventsV1ToCore(e *eventsv1.Event) *corev1.Event {
	e = e.DeepCopy()
	out := &corev1.Event{
		ObjectMeta: e.ObjectMeta, InvolvedObject: e.Regarding, Reason: e.Reason, Message: e.Note, Source: e.DeprecatedSource,
		FirstTimestamp: e.DeprecatedFirstTimestamp, LastTimestamp: e.DeprecatedLastTimestamp, Count: e.DeprecatedCount,
		Type: e.Type, EventTime: e.EventTime, Action: e.Action, Related: e.Related,
		ReportingController: e.ReportingController, ReportingInstance: e.ReportingInstance,
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	out.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Event"))
	return out
}

// CoreToEventsV1 converts a core/v1 Event to events.k8s.io/v1, as Kubernetes'
// Convert_core_Event_To_v1_Event.
func CoreToEventsV1(e *corev1.Event) *eventsv1.Event {
	e = e.DeepCopy()
	out := &eventsv1.Event{
		ObjectMeta: e.ObjectMeta, EventTime: e.EventTime, ReportingController: e.ReportingController,
		ReportingInstance: e.ReportingInstance, Action: e.Action, Reason: e.Reason, Regarding: e.InvolvedObject,
		Related: e.Related, Note: e.Message, Type: e.Type, DeprecatedSource: e.Source,
		DeprecatedFirstTimestamp: e.FirstTimestamp, DeprecatedLastTimestamp: e.LastTimestamp, DeprecatedCount: e.Count,
	}
	if e.Series != nil {
		out.Series = &eventsv1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	out.SetGroupVersionKind(eventsv1.SchemeGroupVersion.WithKind("Event"))
	return out
}

// eventsV1Fields are the selectable fields of events.k8s.io/v1 events: the labels of
// Kubernetes' AddFieldLabelConversionsForEvent, with the values of EventToSelectableFields
// they map to (metadata.name and metadata.namespace the server adds; any other label, source
// included, is not supported).
func eventsV1Fields(e *eventsv1.Event) fields.Set {
	ref := e.Regarding
	return fields.Set{
		"regarding.kind":            ref.Kind,
		"regarding.namespace":       ref.Namespace,
		"regarding.name":            ref.Name,
		"regarding.uid":             string(ref.UID),
		"regarding.apiVersion":      ref.APIVersion,
		"regarding.resourceVersion": ref.ResourceVersion,
		"regarding.fieldPath":       ref.FieldPath,
		"reason":                    e.Reason,
		"reportingController":       e.ReportingController,
		"type":                      e.Type,
	}
}

// eventValidateCreateV1 is Kubernetes' ValidateEventCreate for a request through
// events.k8s.io/v1 (metadata is checked by the server): the legacy rules, then eventTime
// required, type Normal or Warning, the series valid, and the deprecated fields unset.
func eventValidateCreateV1(e *corev1.Event) field.ErrorList {
	errs := eventValidateLegacy(e, "reportingController")
	errs = append(errs, eventValidateSeriesV1(e)...)
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
	}
	if !e.FirstTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("firstTimestamp"), "", "needs to be unset"))
	}
	if !e.LastTimestamp.IsZero() {
		errs = append(errs, field.Invalid(field.NewPath("lastTimestamp"), "", "needs to be unset"))
	}
	if e.Count != 0 {
		errs = append(errs, field.Invalid(field.NewPath("count"), "", "needs to be unset"))
	}
	if e.Source.Component != "" || e.Source.Host != "" {
		errs = append(errs, field.Invalid(field.NewPath("source"), "", "needs to be unset"))
	}
	return errs
}

// eventValidateUpdateV1 is Kubernetes' ValidateEventUpdate for events.k8s.io/v1: the legacy
// rules, a changed series valid, and everything but the series and metadata immutable
// (eventTime to the microsecond; reason is checked twice, as upstream does).
func eventValidateUpdateV1(e, old *corev1.Event) field.ErrorList {
	errs := eventValidateLegacy(e, "reportingController")
	if !reflect.DeepEqual(e.Series, old.Series) {
		errs = append(errs, eventValidateSeriesV1(e)...)
	}
	immutable := func(n, o interface{}, name string) {
		errs = append(errs, apivalidation.ValidateImmutableField(n, o, field.NewPath(name))...)
	}
	immutable(e.InvolvedObject, old.InvolvedObject, "involvedObject")
	immutable(e.Reason, old.Reason, "reason")
	immutable(e.Message, old.Message, "message")
	immutable(e.Source, old.Source, "source")
	immutable(e.FirstTimestamp, old.FirstTimestamp, "firstTimestamp")
	immutable(e.LastTimestamp, old.LastTimestamp, "lastTimestamp")
	immutable(e.Count, old.Count, "count")
	immutable(e.Reason, old.Reason, "reason")
	immutable(e.Type, old.Type, "type")
	if !e.EventTime.Truncate(time.Microsecond).UTC().Equal(old.EventTime.Truncate(time.Microsecond).UTC()) {
		immutable(e.EventTime, old.EventTime, "eventTime")
	}
	immutable(e.Action, old.Action, "action")
	immutable(e.Related, old.Related, "related")
	immutable(e.ReportingController, old.ReportingController, "reportingController")
	immutable(e.ReportingInstance, old.ReportingInstance, "reportingInstance")
	return errs
}

// eventValidateSeriesV1 is Kubernetes' validateV1EventSeries.
func eventValidateSeriesV1(e *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	if s := e.Series; s != nil {
		if s.Count < 2 {
			errs = append(errs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
		}
		if s.LastObservedTime.IsZero() {
			errs = append(errs, field.Required(field.NewPath("series.lastObservedTime"), ""))
		}
	}
	return errs
}
