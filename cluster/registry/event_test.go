package registry

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func eventTestEvent(mutate func(*corev1.Event)) *corev1.Event {
	e := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "jenkins-1.abc", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "jenkins-1", FieldPath: "spec.containers{jenkins}"},
		Reason:         "Pulled", Message: "Container image pulled ", Type: "Normal",
		Source: corev1.EventSource{Component: "kubelet", Host: "node-1"},
	}
	if mutate != nil {
		mutate(e)
	}
	return e
}

func TestEventValidate(t *testing.T) {
	newStyle := func(e *corev1.Event) {
		e.EventTime = metav1.NewMicroTime(time.Now())
		e.ReportingController, e.ReportingInstance, e.Action = "drover.io/node", "node-1", "Pull"
	}
	tests := []struct {
		name   string
		mutate func(*corev1.Event)
		want   []string
	}{
		{"ok", nil, nil},
		{"ok new style", newStyle, nil},
		{"no involved object", func(e *corev1.Event) { e.InvolvedObject = corev1.ObjectReference{} }, nil},
		{"namespace mismatch", func(e *corev1.Event) { e.InvolvedObject.Namespace = "other" },
			[]string{`involvedObject.namespace: Invalid value: "other": does not match event.namespace`}},
		{"new style missing fields", func(e *corev1.Event) { e.EventTime = metav1.NewMicroTime(time.Now()); e.Reason = "" },
			[]string{"reportingComponent: Required value", `reportingComponent: Invalid value: "": name part must be non-empty`,
				`reportingComponent: Invalid value: "": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
				"reportingInstance: Required value", "action: Required value", "reason: Required value"}},
		{"new style long reason and message", func(e *corev1.Event) {
			newStyle(e)
			e.Reason, e.Message = strings.Repeat("r", 129), strings.Repeat("m", 1025)
		}, []string{`reason: Invalid value: "": can have at most 128 characters`, `message: Invalid value: "": can have at most 1024 characters`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(eventValidate(eventTestEvent(tt.mutate)))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventFieldsAndTable(t *testing.T) {
	e := eventTestEvent(func(e *corev1.Event) {
		e.InvolvedObject.UID, e.InvolvedObject.APIVersion = "u1", "v1"
		e.FirstTimestamp = metav1.NewTime(time.Now().Add(-10 * time.Minute))
		e.LastTimestamp = metav1.NewTime(time.Now().Add(-time.Minute))
		e.Count = 3
	})
	wantFields := map[string]string{
		"involvedObject.kind": "Pod", "involvedObject.namespace": "default", "involvedObject.name": "jenkins-1",
		"involvedObject.uid": "u1", "involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "",
		"involvedObject.fieldPath": "spec.containers{jenkins}", "reason": "Pulled", "reportingComponent": "",
		"source": "kubelet", "type": "Normal",
	}
	if diff := cmp.Diff(wantFields, map[string]string(eventFields(e))); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	got, err := eventTable().Row(e)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"60s", "Normal", "Pulled", "pod/jenkins-1", "spec.containers{jenkins}", "kubelet, node-1",
		"Container image pulled", "10m", int64(3), "jenkins-1.abc"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	single := eventTestEvent(func(e *corev1.Event) {
		e.InvolvedObject.Name, e.Source = "", corev1.EventSource{}
		e.ReportingController = "drover"
	})
	got, _ = eventTable().Row(single)
	if got[0] != "<unknown>" || got[3] != "pod" || got[5] != "drover" || got[8] != int64(1) {
		t.Errorf("singleton row = %v", got)
	}
}

func TestLeaseValidateAndTable(t *testing.T) {
	neg, zero := int32(-1), int32(0)
	holder, strategy := "node-1", coordinationv1.CoordinatedLeaseStrategy("")
	tests := []struct {
		name string
		spec coordinationv1.LeaseSpec
		want []string
	}{
		{"ok", coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseTransitions: &zero}, nil},
		{"zero duration", coordinationv1.LeaseSpec{LeaseDurationSeconds: &zero},
			[]string{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"}},
		{"negative transitions", coordinationv1.LeaseSpec{LeaseTransitions: &neg},
			[]string{"spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"}},
		{"preferred holder without strategy", coordinationv1.LeaseSpec{PreferredHolder: &holder, Strategy: &strategy},
			[]string{"spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(leaseValidate(&coordinationv1.Lease{Spec: tt.spec}))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
	got, _ := leaseTable().Row(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "drover-controller"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}})
	if diff := cmp.Diff([]interface{}{"drover-controller", "node-1", "<unknown>"}, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	got, _ = saTable().Row(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Secrets: []corev1.ObjectReference{{Name: "t"}}})
	if diff := cmp.Diff([]interface{}{"default", int64(1), "<unknown>"}, got); diff != "" {
		t.Errorf("serviceaccount row (-want +got):\n%s", diff)
	}
}
