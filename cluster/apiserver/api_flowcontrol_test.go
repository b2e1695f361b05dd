package apiserver_test

import (
	"encoding/json"
	"net/http"
	"testing"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// TestFlowSchemaAPIOperations follows the conformance spec "should support FlowSchema API
// operations": discovery with the status subresource, create by generateName, get, list and
// watch by label, patch and update of the spec (the generation follows), GET, patch and update
// of status (which keeps the stored metadata), delete and deletecollection; and the v1
// defaults and validation.
func TestFlowSchemaAPIOperations(t *testing.T) {
	t.Parallel()
	srv, cs := protobufClient(t)
	ctx := testCtx(t)
	discoveryHas(t, cs, "flowcontrol.apiserver.k8s.io/v1", "flowschemas", "flowschemas/status", "prioritylevelconfigurations", "prioritylevelconfigurations/status")
	fss := cs.FlowcontrolV1().FlowSchemas()
	label := "example-e2e-fs-label=abc"
	tmpl := &flowcontrolv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-example-fs-", Labels: map[string]string{"example-e2e-fs-label": "abc"}},
		Spec: flowcontrolv1.FlowSchemaSpec{
			MatchingPrecedence:         10000,
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "global-default"},
			DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
			Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
				Subjects:         []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: "example-e2e-non-existent-user"}}},
				NonResourceRules: []flowcontrolv1.NonResourcePolicyRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}},
			}},
		},
	}
	var created *flowcontrolv1.FlowSchema
	for i := 0; i < 3; i++ {
		var err error
		if created, err = fss.Create(ctx, tmpl, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	unlabelled := tmpl.DeepCopy()
	unlabelled.Labels, unlabelled.GenerateName, unlabelled.Name = nil, "", "defaulted"
	unlabelled.Spec.MatchingPrecedence = 0
	if d, err := fss.Create(ctx, unlabelled, metav1.CreateOptions{}); err != nil || d.Spec.MatchingPrecedence != 1000 {
		t.Fatalf("defaulted create: %v, %+v", err, d)
	}
	if got, err := fss.Get(ctx, created.Name, metav1.GetOptions{}); err != nil || got.UID != created.UID {
		t.Fatalf("get: %v", err)
	}
	list, err := fss.List(ctx, metav1.ListOptions{LabelSelector: label})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("list by label: %v, %d items", err, len(list.Items))
	}
	w, err := fss.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: label})
	if err != nil {
		t.Fatal(err)
	}
	patched, err := fss.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}},"spec":{"matchingPrecedence":9999}}`), metav1.PatchOptions{})
	if err != nil || patched.Spec.MatchingPrecedence != 9999 || patched.Annotations["patched"] != "true" || patched.Generation != 2 {
		t.Fatalf("patch: %v, %+v", err, patched)
	}
	upd := patched.DeepCopy()
	upd.Annotations["updated"] = "true"
	upd.Spec.MatchingPrecedence = 9000
	updated, err := fss.Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil || updated.Spec.MatchingPrecedence != 9000 || updated.Generation != 3 {
		t.Fatalf("update: %v, %+v", err, updated)
	}
	watchModified(t, w, "updated")

	raw := doRaw(t, srv, "GET", "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas/"+created.Name+"/status", "", nil)
	var fromStatus flowcontrolv1.FlowSchema
	if raw.code != http.StatusOK || json.Unmarshal(raw.body, &fromStatus) != nil || fromStatus.UID != created.UID ||
		fromStatus.APIVersion != "flowcontrol.apiserver.k8s.io/v1" || fromStatus.Kind != "FlowSchema" {
		t.Errorf("GET status: %d %s", raw.code, raw.body)
	}
	ps, err := fss.Patch(ctx, created.Name, types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"ignored":"true"}},"spec":{"matchingPrecedence":5},"status":{"conditions":[{"type":"PatchStatusFailed","status":"False","reason":"e2e"}]}}`),
		metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("status patch: %v", err)
	}
	if len(ps.Status.Conditions) != 1 || ps.Status.Conditions[0].Type != "PatchStatusFailed" || ps.Labels["ignored"] != "" || ps.Spec.MatchingPrecedence != 9000 {
		t.Errorf("status patch: %+v", ps)
	}
	ps.Status.Conditions = append(ps.Status.Conditions, flowcontrolv1.FlowSchemaCondition{Type: "StatusUpdateFailed", Status: flowcontrolv1.ConditionFalse, Reason: "E2E", Message: "Set from a test"})
	us, err := fss.UpdateStatus(ctx, ps, metav1.UpdateOptions{})
	if err != nil || len(us.Status.Conditions) != 2 {
		t.Fatalf("status update: %v, %+v", err, us)
	}
	us.Status.Conditions = append(us.Status.Conditions, us.Status.Conditions[0])
	_, err = fss.UpdateStatus(ctx, us, metav1.UpdateOptions{})
	if se := wantStatus(t, "duplicate condition", err, http.StatusUnprocessableEntity); !hasCause(se.ErrStatus, "status.conditions[2].type") {
		t.Errorf("causes %+v", se.ErrStatus.Details)
	}
	// An update of the main resource keeps the status.
	us, _ = fss.Get(ctx, created.Name, metav1.GetOptions{})
	us.Status.Conditions = nil
	us.Annotations["again"] = "true"
	if kept, err := fss.Update(ctx, us, metav1.UpdateOptions{}); err != nil || len(kept.Status.Conditions) != 2 {
		t.Errorf("update kept status: %v, %+v", err, kept)
	}

	bad := tmpl.DeepCopy()
	bad.Spec.MatchingPrecedence = 1
	_, err = fss.Create(ctx, bad, metav1.CreateOptions{})
	if se := wantStatus(t, "precedence 1", err, http.StatusUnprocessableEntity); !hasCause(se.ErrStatus, "spec.matchingPrecedence") {
		t.Errorf("causes %+v", se.ErrStatus.Details)
	}

	if err := fss.Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := fss.Get(ctx, created.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
	if list, err := fss.List(ctx, metav1.ListOptions{LabelSelector: label}); err != nil || len(list.Items) != 2 {
		t.Errorf("after delete: %v, %d items", err, len(list.Items))
	}
	if err := fss.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: label}); err != nil {
		t.Fatal(err)
	}
	if list, err := fss.List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 1 || list.Items[0].Name != "defaulted" {
		t.Errorf("after deletecollection: %v, %+v", err, list)
	}
}

// TestPriorityLevelConfigurationAPIOperations: the conformance spec's template with its patch
// and update of nominalConcurrencyShares, the v1 defaults, status updates and deletecollection.
func TestPriorityLevelConfigurationAPIOperations(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pls := cs.FlowcontrolV1().PriorityLevelConfigurations()
	label := "example-e2e-pl-label=abc"
	tmpl := &flowcontrolv1.PriorityLevelConfiguration{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-example-pl-", Labels: map[string]string{"example-e2e-pl-label": "abc"}},
		Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
			Type: flowcontrolv1.PriorityLevelEnablementLimited,
			Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{
				NominalConcurrencyShares: ptr.To[int32](2),
				LimitResponse:            flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeReject},
			},
		},
	}
	var created *flowcontrolv1.PriorityLevelConfiguration
	for i := 0; i < 3; i++ {
		var err error
		if created, err = pls.Create(ctx, tmpl, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create: %v", err)
		}
	}
	if lp := created.Spec.Limited.LendablePercent; lp == nil || *lp != 0 {
		t.Errorf("lendablePercent not defaulted: %v", lp)
	}
	list, err := pls.List(ctx, metav1.ListOptions{LabelSelector: label})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("list by label: %v, %d items", err, len(list.Items))
	}
	w, err := pls.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: label})
	if err != nil {
		t.Fatal(err)
	}
	patched, err := pls.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}},"spec":{"limited":{"nominalConcurrencyShares":4}}}`), metav1.PatchOptions{})
	if err != nil || *patched.Spec.Limited.NominalConcurrencyShares != 4 {
		t.Fatalf("patch: %v, %+v", err, patched)
	}
	patched.Annotations["updated"] = "true"
	patched.Spec.Limited.NominalConcurrencyShares = ptr.To[int32](6)
	if updated, err := pls.Update(ctx, patched, metav1.UpdateOptions{}); err != nil || *updated.Spec.Limited.NominalConcurrencyShares != 6 {
		t.Fatalf("update: %v, %+v", err, updated)
	}
	watchModified(t, w, "updated")
	ps, err := pls.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"status":{"conditions":[{"type":"PatchStatusFailed","status":"False","reason":"e2e"}]}}`), metav1.PatchOptions{}, "status")
	if err != nil || len(ps.Status.Conditions) != 1 {
		t.Fatalf("status patch: %v, %+v", err, ps)
	}
	ps.Status.Conditions = append(ps.Status.Conditions, flowcontrolv1.PriorityLevelConfigurationCondition{Type: "StatusUpdateFailed", Status: flowcontrolv1.ConditionFalse})
	if us, err := pls.UpdateStatus(ctx, ps, metav1.UpdateOptions{}); err != nil || len(us.Status.Conditions) != 2 {
		t.Fatalf("status update: %v, %+v", err, us)
	}
	queue := tmpl.DeepCopy()
	queue.Spec.Limited.NominalConcurrencyShares = nil
	queue.Spec.Limited.LimitResponse = flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeQueue, Queuing: &flowcontrolv1.QueuingConfiguration{}}
	q, err := pls.Create(ctx, queue, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("queuing level: %v", err)
	}
	if qc := q.Spec.Limited.LimitResponse.Queuing; *q.Spec.Limited.NominalConcurrencyShares != 30 || qc.Queues != 64 || qc.HandSize != 8 || qc.QueueLengthLimit != 50 {
		t.Errorf("queuing defaults: %+v", q.Spec.Limited)
	}
	bad := tmpl.DeepCopy()
	bad.Spec.Limited.LimitResponse.Type = flowcontrolv1.LimitResponseTypeQueue
	_, err = pls.Create(ctx, bad, metav1.CreateOptions{})
	if se := wantStatus(t, "queue without queuing", err, http.StatusUnprocessableEntity); !hasCause(se.ErrStatus, "spec.limited.limitResponse.queuing") {
		t.Errorf("causes %+v", se.ErrStatus.Details)
	}
	if err := pls.Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pls.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: label}); err != nil {
		t.Fatal(err)
	}
	if list, err := pls.List(ctx, metav1.ListOptions{LabelSelector: label}); err != nil || len(list.Items) != 0 {
		t.Errorf("after deletecollection: %v, %+v", err, list)
	}
}
