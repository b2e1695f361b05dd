package registry

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Length limits of new-style events (those with eventTime), as in Kubernetes.
const (
	eventReasonLengthLimit   = 128
	eventActionLengthLimit   = 128
	eventInstanceLengthLimit = 128
	eventNoteLengthLimit     = 1024
)

// eventResource describes the events resource.
func eventResource() *Resource {
	return &Resource{
		Version: "v1", Resource: "events", Kind: "Event", SingularName: "event",
		ShortNames: []string{"ev"}, Namespaced: true, KeepsGeneration: true,
		New:            func() runtime.Object { return &corev1.Event{} },
		NewList:        func() runtime.Object { return &corev1.EventList{} },
		Validate:       func(obj runtime.Object) field.ErrorList { return eventValidate(obj.(*corev1.Event)) },
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return eventValidate(obj.(*corev1.Event)) },
		Fields:         func(obj runtime.Object) fields.Set { return eventFields(obj.(*corev1.Event)) },
		Table:          eventTable(),
	}
}

// eventFields are the selectable fields of Kubernetes' EventToSelectableFields.
func eventFields(e *corev1.Event) fields.Set {
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	ref := e.InvolvedObject
	return fields.Set{
		"involvedObject.kind":            ref.Kind,
		"involvedObject.namespace":       ref.Namespace,
		"involvedObject.name":            ref.Name,
		"involvedObject.uid":             string(ref.UID),
		"involvedObject.apiVersion":      ref.APIVersion,
		"involvedObject.resourceVersion": ref.ResourceVersion,
		"involvedObject.fieldPath":       ref.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         source,
		"type":                           e.Type,
	}
}

// eventValidate checks an event as Kubernetes does for core/v1 events (ValidateEventCreate and
// ValidateEventUpdate for a core/v1 request: the legacy rules only): the involved object in the
// event's namespace; events with eventTime (the new style) also need reportingComponent,
// reportingInstance, action and reason, within their length limits. As in Kubernetes the
// involved object may be empty (an events.k8s.io event may regard only a namespace).
func eventValidate(e *corev1.Event) field.ErrorList {
	return eventValidateLegacy(e, "reportingComponent")
}

// eventValidateLegacy is Kubernetes' legacyValidateEvent (pkg/apis/core/validation/events.go),
// which events of every version pass; rc names the reporting controller's field, core/v1's
// reportingComponent or events.k8s.io's reportingController.
func eventValidateLegacy(e *corev1.Event, rc string) field.ErrorList {
	var errs field.ErrorList
	ref := e.InvolvedObject
	nsPath := field.NewPath("involvedObject", "namespace")
	if e.EventTime.IsZero() {
		if ref.Namespace == "" && e.Namespace != "" && e.Namespace != metav1.NamespaceDefault {
			errs = append(errs, field.Invalid(nsPath, ref.Namespace, "does not match event.namespace"))
		} else if ref.Namespace != "" && e.Namespace != ref.Namespace {
			errs = append(errs, field.Invalid(nsPath, ref.Namespace, "does not match event.namespace"))
		}
		return errs
	}
	if ref.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
		errs = append(errs, field.Invalid(nsPath, ref.Namespace, "does not match event.namespace"))
	}
	rcPath := field.NewPath(rc)
	if e.ReportingController == "" {
		errs = append(errs, field.Required(rcPath, ""))
	}
	for _, msg := range validation.IsQualifiedName(e.ReportingController) { // an empty one too, as upstream
		errs = append(errs, field.Invalid(rcPath, e.ReportingController, msg))
	}
	errs = append(errs, eventValidateLength("reportingInstance", e.ReportingInstance, eventInstanceLengthLimit, true)...)
	errs = append(errs, eventValidateLength("action", e.Action, eventActionLengthLimit, true)...)
	errs = append(errs, eventValidateLength("reason", e.Reason, eventReasonLengthLimit, true)...)
	return append(errs, eventValidateLength("message", e.Message, eventNoteLengthLimit, false)...)
}

// eventValidateLength checks a string field is set (when required) and within limit.
func eventValidateLength(name, value string, limit int, required bool) field.ErrorList {
	var errs field.ErrorList
	if required && value == "" {
		errs = append(errs, field.Required(field.NewPath(name), ""))
	}
	if len(value) > limit {
		errs = append(errs, field.Invalid(field.NewPath(name), "", fmt.Sprintf("can have at most %d characters", limit)))
	}
	return errs
}

// eventTable prints events as kubectl v1.32 does: LAST SEEN TYPE REASON OBJECT MESSAGE, and
// SUBOBJECT SOURCE FIRST SEEN COUNT NAME with -o wide (NAME last, as kubectl has it).
func eventTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			column("Last Seen", "string", corev1.Event{}.SwaggerDoc()["lastTimestamp"], 0),
			column("Type", "string", corev1.Event{}.SwaggerDoc()["type"], 0),
			column("Reason", "string", corev1.Event{}.SwaggerDoc()["reason"], 0),
			column("Object", "string", corev1.Event{}.SwaggerDoc()["involvedObject"], 0),
			column("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"], 1),
			column("Source", "string", corev1.Event{}.SwaggerDoc()["source"], 1),
			column("Message", "string", corev1.Event{}.SwaggerDoc()["message"], 0),
			column("First Seen", "string", corev1.Event{}.SwaggerDoc()["firstTimestamp"], 1),
			column("Count", "string", corev1.Event{}.SwaggerDoc()["count"], 1),
			{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: nameColumn.Description},
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			e, ok := obj.(*corev1.Event)
			if !ok {
				return nil, fmt.Errorf("event table: unexpected object %T", obj)
			}
			first := translateTimestampSince(e.FirstTimestamp)
			if e.FirstTimestamp.IsZero() {
				first = translateTimestampSince(metav1.NewTime(e.EventTime.Time))
			}
			last := translateTimestampSince(e.LastTimestamp)
			if e.LastTimestamp.IsZero() {
				last = first
			}
			count := e.Count
			if e.Series != nil {
				last = translateTimestampSince(metav1.NewTime(e.Series.LastObservedTime.Time))
				count = e.Series.Count
			} else if count == 0 {
				count = 1
			}
			target := strings.ToLower(e.InvolvedObject.Kind)
			if e.InvolvedObject.Name != "" {
				target += "/" + e.InvolvedObject.Name
			}
			return []interface{}{last, e.Type, e.Reason, target, e.InvolvedObject.FieldPath, eventSource(e),
				strings.TrimSpace(e.Message), first, int64(count), e.Name}, nil
		},
	}
}

// eventSource renders "component, host" (falling back to the reporting controller/instance).
func eventSource(e *corev1.Event) string {
	component, instance := e.Source.Component, e.Source.Host
	if component == "" {
		component = e.ReportingController
	}
	if instance == "" {
		instance = e.ReportingInstance
	}
	if instance == "" {
		return component
	}
	return component + ", " + instance
}
