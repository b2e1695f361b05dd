package registry

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
)

// kube-aggregator's table: SERVICE Local or NAMESPACE/NAME, AVAILABLE the condition's status
// with its reason when not True, Unknown without one.
func TestAPIServiceTable(t *testing.T) {
	row := apiServiceTable().Row
	port := int32(443)
	for _, c := range []struct {
		svc           *apiregistrationv1.ServiceReference
		conds         []apiregistrationv1.APIServiceCondition
		service, want string
	}{
		{nil, nil, "Local", "Unknown"},
		{nil, []apiregistrationv1.APIServiceCondition{{Type: "Available", Status: "True", Reason: "Local"}}, "Local", "True"},
		{&apiregistrationv1.ServiceReference{Namespace: "ns", Name: "api", Port: &port},
			[]apiregistrationv1.APIServiceCondition{{Type: "Other", Status: "True"}, {Type: "Available", Status: "False", Reason: "MissingEndpoints"}},
			"ns/api", "False (MissingEndpoints)"},
	} {
		s := &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: "v1.x"}, Spec: apiregistrationv1.APIServiceSpec{Service: c.svc},
			Status: apiregistrationv1.APIServiceStatus{Conditions: c.conds}}
		cells, err := row(s)
		if err != nil || cells[1] != c.service || cells[2] != c.want {
			t.Errorf("row %v, %v; want %s %s", cells, err, c.service, c.want)
		}
	}
}

// The name must be VERSION.GROUP; metadata's other checks are the server's.
func TestAPIServiceValidate(t *testing.T) {
	s := &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: "v1.other"},
		Spec: apiregistrationv1.APIServiceSpec{Group: "g.example.com", Version: "v1", GroupPriorityMinimum: 100, VersionPriority: 100}}
	errs := apiServiceValidate(s)
	if len(errs) != 1 || errs[0].Field != "metadata.name" {
		t.Errorf("errors %v, want one on metadata.name", errs)
	}
	s.Name = "v1.g.example.com"
	if errs := apiServiceValidate(s); len(errs) != 0 {
		t.Errorf("errors %v", errs)
	}
}

func TestLocalPriority(t *testing.T) {
	for gv, want := range map[schema.GroupVersion]APIServicePriority{
		{Version: "v1"}:                               {18000, 1},
		{Group: "apps", Version: "v1"}:                {17800, 15},
		{Group: "autoscaling", Version: "v2"}:         {17500, 30},
		{Group: "metrics.k8s.io", Version: "v1beta1"}: {100, 100},
	} {
		if got := LocalPriority(&Resource{Group: gv.Group, Version: gv.Version}); got != want {
			t.Errorf("%s: %v, want %v", gv, got, want)
		}
	}
	if got := LocalPriority(&Resource{Group: "x.example.com", Version: "v1", Custom: true}); got != CustomResourcePriority {
		t.Errorf("custom: %v", got)
	}
}
