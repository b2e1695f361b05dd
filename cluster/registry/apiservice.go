package registry

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kube-aggregator/pkg/apis/apiregistration"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiservicevalidation "k8s.io/kube-aggregator/pkg/apis/apiregistration/validation"
)

// APIRegistrationGroup is the apiregistration.k8s.io API group: APIServices, which say which
// server answers each group version (drover itself, "Local", or an extension API server behind
// a Service, to which the API server proxies).
const APIRegistrationGroup = apiregistrationv1.GroupName

// apiServiceResource describes the apiregistration.k8s.io/v1 apiservices resource with
// kube-aggregator's strategy (pkg/registry/apiservice) and validation.
func apiServiceResource() *Resource {
	return &Resource{
		Group: APIRegistrationGroup, Version: "v1", Resource: "apiservices", Kind: "APIService", SingularName: "apiservice",
		Categories:   []string{"api-extensions"},
		Subresources: []string{"status"}, HasStatus: true,
		New:     func() runtime.Object { return &apiregistrationv1.APIService{} },
		NewList: func() runtime.Object { return &apiregistrationv1.APIServiceList{} },
		NameValidation: func(name string, _ bool) []string {
			return path.IsValidPathSegmentName(name)
		},
		Default: func(obj runtime.Object) {
			apiregistrationv1.SetObjectDefaults_APIService(obj.(*apiregistrationv1.APIService))
		},
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*apiregistrationv1.APIService).Status = apiregistrationv1.APIServiceStatus{}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return apiServiceValidate(obj.(*apiregistrationv1.APIService))
		},
		ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList {
			return apiServiceValidate(obj.(*apiregistrationv1.APIService))
		},
		ValidateStatusUpdate: func(obj, _ runtime.Object) field.ErrorList {
			in, err := apiServiceInternal(obj.(*apiregistrationv1.APIService))
			if err != nil {
				return field.ErrorList{field.InternalError(field.NewPath("status"), err)}
			}
			return apiservicevalidation.ValidateAPIServiceStatus(&in.Status, field.NewPath("status"))
		},
		Table: apiServiceTable(),
	}
}

// apiServiceInternal converts to kube-aggregator's internal type, which its validation takes.
func apiServiceInternal(in *apiregistrationv1.APIService) (*apiregistration.APIService, error) {
	out := &apiregistration.APIService{}
	if err := apiregistrationv1.Convert_v1_APIService_To_apiregistration_APIService(in, out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// apiServiceValidate is kube-aggregator's ValidateAPIService without the metadata checks the
// API server makes itself, except the name's: it must be spec.version + "." + spec.group.
func apiServiceValidate(s *apiregistrationv1.APIService) field.ErrorList {
	in, err := apiServiceInternal(s)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec"), err)}
	}
	var errs field.ErrorList
	for _, e := range apiservicevalidation.ValidateAPIService(in) {
		if strings.HasPrefix(e.Field, "metadata") && !(e.Field == "metadata.name" && strings.Contains(e.Detail, "spec.version")) {
			continue // the server's own metadata validation reports these
		}
		errs = append(errs, e)
	}
	return errs
}

// apiServiceTable prints APIServices as kube-aggregator does: NAME SERVICE AVAILABLE AGE,
// SERVICE "Local" or NAMESPACE/NAME, AVAILABLE the Available condition's status, with its
// reason when not True.
func apiServiceTable() *Table {
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("Service", "string", "The reference to the service that hosts this API endpoint.", 0),
			column("Available", "string", "Whether this service is available.", 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			s, ok := obj.(*apiregistrationv1.APIService)
			if !ok {
				return nil, fmt.Errorf("apiservice table: unexpected object %T", obj)
			}
			service := "Local"
			if s.Spec.Service != nil {
				service = s.Spec.Service.Namespace + "/" + s.Spec.Service.Name
			}
			status := string(apiregistrationv1.ConditionUnknown)
			for _, c := range s.Status.Conditions {
				if c.Type != apiregistrationv1.Available {
					continue
				}
				status = string(c.Status)
				if c.Status != apiregistrationv1.ConditionTrue && c.Reason != "" {
					status = fmt.Sprintf("%s (%s)", c.Status, c.Reason)
				}
				break
			}
			return []interface{}{s.Name, service, status, translateTimestampSince(s.CreationTimestamp)}, nil
		},
	}
}

// APIServicePriority is the groupPriorityMinimum and versionPriority of a group version.
type APIServicePriority struct{ Group, Version int32 }

// apiServicePriorities are kube-apiserver 1.32's priorities of its own group versions
// (pkg/controlplane/apiserver/aggregator.go's DefaultGenericAPIServicePriorities merged with
// cmd/kube-apiserver/app/aggregator.go's), trimmed to the groups drover serves or may.
var apiServicePriorities = map[schema.GroupVersion]APIServicePriority{
	{Group: "", Version: "v1"}:                                  {18000, 1},
	{Group: "events.k8s.io", Version: "v1"}:                     {17750, 15},
	{Group: "apps", Version: "v1"}:                              {17800, 15},
	{Group: "authentication.k8s.io", Version: "v1"}:             {17700, 15},
	{Group: "authorization.k8s.io", Version: "v1"}:              {17600, 15},
	{Group: "autoscaling", Version: "v1"}:                       {17500, 15},
	{Group: "autoscaling", Version: "v2"}:                       {17500, 30},
	{Group: "batch", Version: "v1"}:                             {17400, 15},
	{Group: "certificates.k8s.io", Version: "v1"}:               {17300, 15},
	{Group: "networking.k8s.io", Version: "v1"}:                 {17200, 15},
	{Group: "policy", Version: "v1"}:                            {17100, 15},
	{Group: "rbac.authorization.k8s.io", Version: "v1"}:         {17000, 15},
	{Group: "storage.k8s.io", Version: "v1"}:                    {16800, 15},
	{Group: "apiextensions.k8s.io", Version: "v1"}:              {16700, 15},
	{Group: "admissionregistration.k8s.io", Version: "v1"}:      {16700, 15},
	{Group: "scheduling.k8s.io", Version: "v1"}:                 {16600, 15},
	{Group: "coordination.k8s.io", Version: "v1"}:               {16500, 15},
	{Group: "node.k8s.io", Version: "v1"}:                       {16300, 15},
	{Group: "discovery.k8s.io", Version: "v1"}:                  {16200, 15},
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1"}:      {16100, 21},
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1beta3"}: {16100, 18},
}

// Priorities kube-apiserver gives group versions its table does not know.
var (
	// CustomResourcePriority is what kube-apiserver's crdregistration controller gives a
	// CustomResourceDefinition's group versions.
	CustomResourcePriority = APIServicePriority{Group: 1000, Version: 100}
	// metricsPriority is metrics-server's APIService's (v1beta1.metrics.k8s.io), which drover
	// serves itself.
	metricsPriority = APIServicePriority{Group: 100, Version: 100}
)

// APIRegistrationPriority is the group priority kube-aggregator gives its own group in
// aggregated discovery: above every other.
const APIRegistrationPriority = 20001

// LocalPriority is the priority of a group version drover serves itself: kube-apiserver's for
// its own, the crdregistration controller's for a custom resource's, metrics-server's for
// metrics.k8s.io.
func LocalPriority(r *Resource) APIServicePriority {
	if r.Custom {
		return CustomResourcePriority
	}
	if p, ok := apiServicePriorities[r.GroupVersion()]; ok {
		return p
	}
	if r.Group == APIRegistrationGroup {
		return APIServicePriority{Group: APIRegistrationPriority, Version: 15}
	}
	return metricsPriority
}
