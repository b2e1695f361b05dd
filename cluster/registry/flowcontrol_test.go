package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap"
	"k8s.io/utils/ptr"
)

func flowcontrolLookup(t *testing.T, resource string) *Resource {
	t.Helper()
	r, ok := lookup(schema.GroupVersionResource{Group: FlowcontrolGroup, Version: "v1", Resource: resource})
	if !ok || r.Table == nil || r.Namespaced || !r.HasStatus || !r.HasSubresource("status") {
		t.Fatalf("%s: not registered as a cluster-scoped resource with status and a table", resource)
	}
	return r
}

// fcTestFlowSchema is the conformance test's FlowSchema template.
func fcTestFlowSchema(mutate func(*flowcontrolv1.FlowSchema)) *flowcontrolv1.FlowSchema {
	fs := &flowcontrolv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-example-fs-x"},
		Spec: flowcontrolv1.FlowSchemaSpec{
			MatchingPrecedence:         10000,
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "global-default"},
			DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
			Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
				Subjects: []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: "example-e2e-non-existent-user"}}},
				NonResourceRules: []flowcontrolv1.NonResourcePolicyRule{{
					Verbs: []string{flowcontrolv1.VerbAll}, NonResourceURLs: []string{flowcontrolv1.NonResourceAll}}},
			}},
		},
	}
	if mutate != nil {
		mutate(fs)
	}
	return fs
}

func TestFlowSchemaValidateAndDefault(t *testing.T) {
	rule := func(fs *flowcontrolv1.FlowSchema) *flowcontrolv1.PolicyRulesWithSubjects { return &fs.Spec.Rules[0] }
	tests := []struct {
		name   string
		mutate func(*flowcontrolv1.FlowSchema)
		want   []string
	}{
		{"ok", nil, nil},
		{"precedence defaults to 1000", func(fs *flowcontrolv1.FlowSchema) { fs.Spec.MatchingPrecedence = 0 }, nil},
		{"precedence too high", func(fs *flowcontrolv1.FlowSchema) { fs.Spec.MatchingPrecedence = 10001 },
			[]string{"spec.matchingPrecedence: Invalid value: 10001: must not be greater than 10000"}},
		{"precedence 1 is exempt's", func(fs *flowcontrolv1.FlowSchema) { fs.Spec.MatchingPrecedence = 1 },
			[]string{"spec.matchingPrecedence: Invalid value: 1: only the schema named 'exempt' may have matchingPrecedence 1"}},
		{"negative precedence", func(fs *flowcontrolv1.FlowSchema) { fs.Spec.MatchingPrecedence = -1 },
			[]string{"spec.matchingPrecedence: Invalid value: -1: must be a positive value"}},
		{"distinguisher", func(fs *flowcontrolv1.FlowSchema) { fs.Spec.DistinguisherMethod.Type = "ByVerb" },
			[]string{`spec.distinguisherMethod.type: Unsupported value: "ByVerb": supported values: "ByNamespace", "ByUser"`}},
		{"priority level required", func(fs *flowcontrolv1.FlowSchema) { fs.Spec.PriorityLevelConfiguration.Name = "" },
			[]string{"spec.priorityLevelConfiguration.name: Required value: must reference a priority level"}},
		{"subjects and rules required", func(fs *flowcontrolv1.FlowSchema) {
			fs.Spec.Rules = []flowcontrolv1.PolicyRulesWithSubjects{{}}
		}, []string{"spec.rules[0].subjects: Required value: subjects must contain at least one value",
			"spec.rules[0]: Required value: at least one of resourceRules and nonResourceRules has to be non-empty"}},
		{"subject kinds", func(fs *flowcontrolv1.FlowSchema) {
			rule(fs).Subjects = []flowcontrolv1.Subject{
				{Kind: flowcontrolv1.SubjectKindServiceAccount, ServiceAccount: &flowcontrolv1.ServiceAccountSubject{Name: "*"}, Group: &flowcontrolv1.GroupSubject{Name: "g"}},
				{Kind: flowcontrolv1.SubjectKindGroup},
				{Kind: "Robot"},
			}
		}, []string{
			"spec.rules[0].subjects[0].serviceAccount.namespace: Required value: must specify namespace for service account",
			"spec.rules[0].subjects[0].group: Forbidden: group is forbidden when subject kind is not 'Group'",
			"spec.rules[0].subjects[1].group: Required value: group is required when subject kind is 'Group'",
			`spec.rules[0].subjects[2].kind: Unsupported value: "Robot": supported values: "Group", "ServiceAccount", "User"`}},
		{"non-resource rules", func(fs *flowcontrolv1.FlowSchema) {
			rule(fs).NonResourceRules = []flowcontrolv1.NonResourcePolicyRule{
				{Verbs: []string{"*", "get"}, NonResourceURLs: []string{"/healthz", "/api/*/x", "metrics"}},
				{Verbs: []string{"escalate"}, NonResourceURLs: []string{"*", "/"}},
			}
		}, []string{
			`spec.rules[0].nonResourceRules[0].verbs: Invalid value: []string{"*", "get"}: if '*' is present, must not specify other verbs`,
			`spec.rules[0].nonResourceRules[0].nonResourceURLs[1]: Invalid value: "/api/*/x": wildcard can only do suffix matching`,
			`spec.rules[0].nonResourceRules[0].nonResourceURLs[2]: Invalid value: "metrics": must start with slash`,
			`spec.rules[0].nonResourceRules[1].verbs: Unsupported value: []string{"escalate"}: supported values: "create", "delete", "deletecollection", "get", "list", "patch", "proxy", "update", "watch"`,
			`spec.rules[0].nonResourceRules[1].nonResourceURLs: Invalid value: []string{"*", "/"}: if '*' is present, must not specify other non-resource URLs`}},
		{"resource rules", func(fs *flowcontrolv1.FlowSchema) {
			rule(fs).ResourceRules = []flowcontrolv1.ResourcePolicyRule{
				{Verbs: []string{"get"}, APIGroups: []string{"*", "apps"}, Resources: []string{"pods"}},
				{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}, Namespaces: []string{"Bad"}},
				{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}, ClusterScope: true},
			}
		}, []string{
			`spec.rules[0].resourceRules[0].apiGroups: Invalid value: []string{"*", "apps"}: if '*' is present, must not specify other api groups`,
			"spec.rules[0].resourceRules[0].namespaces: Required value: resource rules that are not cluster scoped must supply at least one namespace",
			`spec.rules[0].resourceRules[1].namespaces[0]: Invalid value: "Bad": each member of this list must be '*' or a DNS-1123 label; a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{"mandatory exempt must equal its fixed spec", func(fs *flowcontrolv1.FlowSchema) { fs.Name = "exempt" },
			[]string{"spec: Invalid value: "}}, // the spec's Go rendering follows; only the prefix is compared
	}
	res := flowcontrolLookup(t, "flowschemas")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := fcTestFlowSchema(tt.mutate)
			res.Default(fs)
			got := metaErrStrings(res.Validate(fs))
			if tt.name == "mandatory exempt must equal its fixed spec" && len(got) == 1 && len(got[0]) > len(tt.want[0]) {
				got[0] = got[0][:len(tt.want[0])]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if fs.Spec.MatchingPrecedence == 0 {
				t.Error("matchingPrecedence not defaulted")
			}
		})
	}
	fs := fcTestFlowSchema(func(fs *flowcontrolv1.FlowSchema) { fs.Spec.MatchingPrecedence = 0 })
	res.Default(fs)
	if fs.Spec.MatchingPrecedence != 1000 {
		t.Errorf("default matchingPrecedence %d, want 1000", fs.Spec.MatchingPrecedence)
	}
	// Kubernetes' own mandatory schemas pass.
	for _, m := range bootstrap.MandatoryFlowSchemas {
		c := m.DeepCopy()
		res.Default(c)
		if errs := res.Validate(c); len(errs) > 0 {
			t.Errorf("mandatory %s: %v", c.Name, errs)
		}
	}
}

func TestFlowSchemaStatusUpdateKeepsMetadataAndValidatesConditions(t *testing.T) {
	res := flowcontrolLookup(t, "flowschemas")
	old := fcTestFlowSchema(func(fs *flowcontrolv1.FlowSchema) {
		fs.ResourceVersion, fs.Labels = "7", map[string]string{"a": "b"}
	})
	upd := old.DeepCopy()
	upd.ResourceVersion, upd.Labels = "8", map[string]string{"a": "changed"}
	upd.Status.Conditions = []flowcontrolv1.FlowSchemaCondition{{Type: "X", Status: flowcontrolv1.ConditionFalse}, {Type: "X"}, {}}
	res.PrepareForSubresourceUpdate("status", upd, old)
	if upd.Labels["a"] != "b" || upd.ResourceVersion != "8" {
		t.Errorf("status update metadata: labels %v, resourceVersion %s", upd.Labels, upd.ResourceVersion)
	}
	want := []string{`status.conditions[1].type: Duplicate value: "X"`, "status.conditions[2].type: Required value: must not be empty"}
	if diff := cmp.Diff(want, metaErrStrings(res.ValidateStatusUpdate(upd, old))); diff != "" {
		t.Errorf("status errors (-want +got):\n%s", diff)
	}
	res.PrepareForCreate(upd)
	if len(upd.Status.Conditions) != 0 {
		t.Errorf("create kept status %+v", upd.Status)
	}
}

func TestFlowSchemaTable(t *testing.T) {
	res := flowcontrolLookup(t, "flowschemas")
	row, err := res.Table.Row(fcTestFlowSchema(nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]interface{}{"e2e-example-fs-x", "global-default", int64(10000), "ByUser", "<unknown>", "?"}, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	fs := fcTestFlowSchema(func(fs *flowcontrolv1.FlowSchema) {
		fs.Spec.DistinguisherMethod = nil
		fs.Status.Conditions = []flowcontrolv1.FlowSchemaCondition{{Type: flowcontrolv1.FlowSchemaConditionDangling, Status: flowcontrolv1.ConditionTrue}}
	})
	row, _ = res.Table.Row(fs)
	if row[3] != "<none>" || row[5] != "True" {
		t.Errorf("row %v", row)
	}
}

// fcTestPLC is the conformance test's PriorityLevelConfiguration template.
func fcTestPLC(mutate func(*flowcontrolv1.PriorityLevelConfiguration)) *flowcontrolv1.PriorityLevelConfiguration {
	pl := &flowcontrolv1.PriorityLevelConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-example-pl-x"},
		Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
			Type: flowcontrolv1.PriorityLevelEnablementLimited,
			Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{
				NominalConcurrencyShares: ptr.To[int32](2),
				LimitResponse:            flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeReject},
			},
		},
	}
	if mutate != nil {
		mutate(pl)
	}
	return pl
}

func TestPriorityLevelConfigurationDefaults(t *testing.T) {
	res := flowcontrolLookup(t, "prioritylevelconfigurations")
	pl := fcTestPLC(func(pl *flowcontrolv1.PriorityLevelConfiguration) {
		pl.Spec.Limited.NominalConcurrencyShares = nil
		pl.Spec.Limited.LimitResponse = flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeQueue, Queuing: &flowcontrolv1.QueuingConfiguration{}}
	})
	res.Default(pl)
	want := &flowcontrolv1.LimitedPriorityLevelConfiguration{
		NominalConcurrencyShares: ptr.To[int32](30), LendablePercent: ptr.To[int32](0),
		LimitResponse: flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeQueue,
			Queuing: &flowcontrolv1.QueuingConfiguration{Queues: 64, HandSize: 8, QueueLengthLimit: 50}},
	}
	if diff := cmp.Diff(want, pl.Spec.Limited); diff != "" {
		t.Errorf("limited defaults (-want +got):\n%s", diff)
	}
	if errs := res.Validate(pl); len(errs) > 0 {
		t.Errorf("defaulted level: %v", errs)
	}
	// An explicit 0 stays 0 in v1 (Kubernetes 1.29 and later).
	pl = fcTestPLC(func(pl *flowcontrolv1.PriorityLevelConfiguration) {
		pl.Spec.Limited.NominalConcurrencyShares = ptr.To[int32](0)
	})
	res.Default(pl)
	if *pl.Spec.Limited.NominalConcurrencyShares != 0 {
		t.Errorf("explicit 0 shares became %d", *pl.Spec.Limited.NominalConcurrencyShares)
	}
	ex := &flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "exempt"},
		Spec: flowcontrolv1.PriorityLevelConfigurationSpec{Type: flowcontrolv1.PriorityLevelEnablementExempt, Exempt: &flowcontrolv1.ExemptPriorityLevelConfiguration{}}}
	res.Default(ex)
	if diff := cmp.Diff(&flowcontrolv1.ExemptPriorityLevelConfiguration{NominalConcurrencyShares: ptr.To[int32](0), LendablePercent: ptr.To[int32](0)}, ex.Spec.Exempt); diff != "" {
		t.Errorf("exempt defaults (-want +got):\n%s", diff)
	}
	if errs := res.Validate(ex); len(errs) > 0 {
		t.Errorf("mandatory exempt level: %v", errs)
	}
	// The exempt level's spec.exempt may differ from the fixed value; the rest may not.
	ex.Spec.Exempt.NominalConcurrencyShares = ptr.To[int32](10)
	if errs := res.Validate(ex); len(errs) > 0 {
		t.Errorf("exempt level with its own shares: %v", errs)
	}
	for _, m := range bootstrap.MandatoryPriorityLevelConfigurations {
		c := m.DeepCopy()
		res.Default(c)
		if errs := res.Validate(c); len(errs) > 0 {
			t.Errorf("mandatory %s: %v", c.Name, errs)
		}
	}
}

func TestPriorityLevelConfigurationValidate(t *testing.T) {
	limited := func(pl *flowcontrolv1.PriorityLevelConfiguration) *flowcontrolv1.LimitedPriorityLevelConfiguration {
		return pl.Spec.Limited
	}
	tests := []struct {
		name   string
		mutate func(*flowcontrolv1.PriorityLevelConfiguration)
		want   []string
	}{
		{"ok", nil, nil},
		{"exempt type needs the name exempt", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			pl.Spec = flowcontrolv1.PriorityLevelConfigurationSpec{Type: flowcontrolv1.PriorityLevelEnablementExempt}
		}, []string{`spec.type: Invalid value: "Exempt": type must be 'Exempt' if and only if name is 'exempt'`}},
		{"unknown type", func(pl *flowcontrolv1.PriorityLevelConfiguration) { pl.Spec.Type = "Unlimited" },
			[]string{`spec.type: Unsupported value: "Unlimited": supported values: "Exempt", "Limited"`}},
		{"limited required", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			pl.Spec.Limited, pl.Spec.Exempt = nil, &flowcontrolv1.ExemptPriorityLevelConfiguration{}
		}, []string{"spec.exempt: Forbidden: must be nil if the type is Limited", "spec.limited: Required value: must not be empty when type is Limited"}},
		{"numbers", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			l := limited(pl)
			l.NominalConcurrencyShares, l.LendablePercent, l.BorrowingLimitPercent = ptr.To[int32](-1), ptr.To[int32](101), ptr.To[int32](-1)
		}, []string{
			"spec.limited.nominalConcurrencyShares: Invalid value: -1: must be a non-negative integer",
			"spec.limited.lendablePercent: Invalid value: 101: must be between 0 and 100, inclusive",
			"spec.limited.borrowingLimitPercent: Invalid value: -1: if specified, must be a non-negative integer"}},
		{"limit response type required", func(pl *flowcontrolv1.PriorityLevelConfiguration) { limited(pl).LimitResponse.Type = "" },
			[]string{`spec.limited.limitResponse.type: Unsupported value: "": supported values: "Queue", "Reject"`}},
		{"reject has no queuing", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			limited(pl).LimitResponse.Queuing = &flowcontrolv1.QueuingConfiguration{Queues: 1, HandSize: 1, QueueLengthLimit: 1}
		}, []string{"spec.limited.limitResponse.queuing: Forbidden: must be nil if limited.limitResponse.type is not Limited"}},
		{"queue needs queuing", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			limited(pl).LimitResponse.Type = flowcontrolv1.LimitResponseTypeQueue
		},
			[]string{"spec.limited.limitResponse.queuing: Required value: must not be empty if limited.limitResponse.type is Limited"}},
		{"hand bigger than deck", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			limited(pl).LimitResponse = flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeQueue,
				Queuing: &flowcontrolv1.QueuingConfiguration{Queues: 4, HandSize: 5, QueueLengthLimit: -1}}
		}, []string{"spec.limited.limitResponse.queuing.queueLengthLimit: Invalid value: -1: must be positive",
			"spec.limited.limitResponse.queuing.handSize: Invalid value: 5: should not be greater than queues (4)"}},
		{"too much entropy", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			limited(pl).LimitResponse = flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeQueue,
				Queuing: &flowcontrolv1.QueuingConfiguration{Queues: 10000000, HandSize: 10, QueueLengthLimit: 5}}
		}, []string{"spec.limited.limitResponse.queuing.handSize: Invalid value: 10: required entropy bits of deckSize 10000000 and handSize 10 should not be greater than 60"}},
		{"round-trip annotation", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			pl.Annotations = map[string]string{"flowcontrol.k8s.io/v1beta3-preserve-zero-concurrency-shares": "true"}
		}, []string{"metadata.annotations: Forbidden: annotation 'flowcontrol.k8s.io/v1beta3-preserve-zero-concurrency-shares' is forbidden"}},
		{"catch-all must equal its fixed spec", func(pl *flowcontrolv1.PriorityLevelConfiguration) { pl.Name = "catch-all" },
			[]string{"spec: Invalid value: "}},
	}
	res := flowcontrolLookup(t, "prioritylevelconfigurations")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl := fcTestPLC(tt.mutate)
			res.Default(pl)
			got := metaErrStrings(res.Validate(pl))
			if tt.name == "catch-all must equal its fixed spec" && len(got) == 1 && len(got[0]) > len(tt.want[0]) {
				got[0] = got[0][:len(tt.want[0])]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPriorityLevelConfigurationTable(t *testing.T) {
	res := flowcontrolLookup(t, "prioritylevelconfigurations")
	pl := fcTestPLC(nil)
	res.Default(pl)
	row, err := res.Table.Row(pl)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]interface{}{"e2e-example-pl-x", "Limited", int64(2), "<none>", "<none>", "<none>", "<unknown>"}, row); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
	pl.Spec.Limited.LimitResponse = flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeQueue, Queuing: &flowcontrolv1.QueuingConfiguration{}}
	res.Default(pl)
	row, _ = res.Table.Row(pl)
	if diff := cmp.Diff([]interface{}{int64(64), int64(8), int64(50)}, row[3:6]); diff != "" {
		t.Errorf("queuing cells (-want +got):\n%s", diff)
	}
}
