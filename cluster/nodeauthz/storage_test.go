package nodeauthz

import (
	"context"
	"testing"

	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// TestCSIRules: as Kubernetes' system:node rules and authorizeCSINode, a node reads
// CSIDrivers and manages only its own CSINode; NodeRestriction refuses a CSINode of another
// name (a create's name is only in its body).
func TestCSIRules(t *testing.T) {
	a := NewAuthorizer(NewGraph(), nil)
	decide := func(verb, resource, sub, name string) authorizer.Decision {
		d, _, err := a.Authorize(context.Background(), authorizer.AttributesRecord{User: nodeUser("n1"), Verb: verb,
			APIGroup: "storage.k8s.io", Resource: resource, Subresource: sub, Name: name, ResourceRequest: true, APIVersion: "v1"})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, c := range []struct {
		verb, resource, sub, name string
		want                      authorizer.Decision
	}{
		{"get", "csidrivers", "", "e2e.example.com", authorizer.DecisionAllow},
		{"list", "csidrivers", "", "", authorizer.DecisionAllow},
		{"create", "csidrivers", "", "", authorizer.DecisionNoOpinion},
		{"get", "csinodes", "", "n1", authorizer.DecisionAllow},
		{"patch", "csinodes", "", "n1", authorizer.DecisionAllow},
		{"create", "csinodes", "", "", authorizer.DecisionAllow},
		{"get", "csinodes", "", "n2", authorizer.DecisionNoOpinion},
		{"list", "csinodes", "", "", authorizer.DecisionNoOpinion},
		{"update", "csinodes", "status", "n1", authorizer.DecisionNoOpinion},
		{"get", "storageclasses", "", "fast", authorizer.DecisionNoOpinion},
	} {
		if got := decide(c.verb, c.resource, c.sub, c.name); got != c.want {
			t.Errorf("n1 %s %s/%s %q: %v, want %v", c.verb, c.resource, c.sub, c.name, got, c.want)
		}
	}

	gr := schema.GroupResource{Group: "storage.k8s.io", Resource: "csinodes"}
	own := &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	other := &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}
	if err := Admit(Attributes{User: nodeUser("n1"), Operation: Create, Resource: gr, Object: own}); err != nil {
		t.Errorf("create own CSINode: %v", err)
	}
	err := Admit(Attributes{User: nodeUser("n1"), Operation: Create, Resource: gr, Name: "n2", Object: other})
	if !apierrors.IsForbidden(err) || err.Error() != `csinodes.storage.k8s.io "n2" is forbidden: can only access CSINode with the same name as the requesting node` {
		t.Errorf("create another node's CSINode: %v", err)
	}
	if err := Admit(Attributes{User: nodeUser("n1"), Operation: Delete, Resource: gr, Name: "n2", OldObject: other}); !apierrors.IsForbidden(err) {
		t.Errorf("delete another node's CSINode: %v", err)
	}
}
