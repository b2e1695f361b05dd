package apiserver

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/generic"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/mutating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/validating"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/discovery"
	"github.com/drover-ci/drover/cluster/registry"
)

// Admission webhooks are kube-apiserver's own plugins (k8s.io/apiserver's MutatingAdmissionWebhook
// and ValidatingAdmissionWebhook): their configurations read through the server's loopback
// informers, namespaces and objects matched by their selectors, rules and matchConditions,
// AdmissionReview v1 or v1beta1 sent, JSON patches applied, failurePolicy, timeouts and
// reinvocation as upstream. Mutating webhooks run after drover's built-in mutating admission
// and before validation; validating webhooks after validation, before ResourceQuota. A webhook
// behind a Service is called at a ready endpoint of the Service (kube-apiserver with
// --enable-aggregator-routing), with the TLS name SERVICE.NAMESPACE.svc.

// webhookAdmission holds the two plugins (nil: a server without a loopback client, in tests
// built with New alone).
type webhookAdmission struct {
	mutating   *mutating.Plugin
	validating *validating.Plugin
	objs       admission.ObjectInterfaces
	// policy is ValidatingAdmissionPolicy (admission_policy.go), run before the validating
	// webhooks as in kube-apiserver; nil until set.
	policy *validatingPolicy
}

// newWebhookAdmission builds the plugins over the loopback clientset and informer factory
// (started by the caller after this, so that their informers are registered).
func newWebhookAdmission(s *Server, cs kubernetes.Interface, factory informers.SharedInformerFactory) (*webhookAdmission, error) {
	var mut *mutating.Plugin
	var val *validating.Plugin
	var err error
	registry.BuildCEL(func() { // their constructors build CEL compilers
		if mut, err = mutating.NewMutatingWebhook(nil); err != nil {
			err = fmt.Errorf("mutating admission webhook: %w", err)
			return
		}
		if val, err = validating.NewValidatingAdmissionWebhook(nil); err != nil {
			err = fmt.Errorf("validating admission webhook: %w", err)
		}
	})
	if err != nil {
		return nil, err
	}
	resolver := endpointResolver{s: s}
	for _, p := range []*generic.Webhook{mut.Webhook, val.Webhook} {
		p.SetExternalKubeClientSet(cs)
		p.SetExternalKubeInformerFactory(factory)
		p.SetServiceResolver(resolver)
		if err := p.ValidateInitialization(); err != nil {
			return nil, fmt.Errorf("admission webhooks: %w", err)
		}
	}
	return &webhookAdmission{mutating: mut, validating: val, objs: objectInterfaces{s: s}}, nil
}

// webhookAttributes describes one request for the webhooks.
func webhookAttributes(ctx context.Context, op admission.Operation, res *registry.Resource, sub string, obj, old runtime.Object, opts runtime.Object, dryRun bool) admission.Attributes {
	u, _ := genericrequest.UserFrom(ctx)
	m := obj
	if m == nil {
		m = old // a delete
	}
	ns, name := accessor(m).GetNamespace(), accessor(m).GetName()
	kind := res.GroupVersionKind()
	if sub != "" && obj != nil {
		kind = obj.GetObjectKind().GroupVersionKind()
	}
	return admission.NewAttributesRecord(obj, old, kind, ns, name, res.GroupVersionResource(), sub, op, opts, dryRun, u)
}

// mutate calls the mutating webhooks; obj is changed in place by their patches.
func (w *webhookAdmission) mutate(ctx context.Context, attrs admission.Attributes) error {
	if w == nil || !w.mutating.Handles(attrs.GetOperation()) {
		return nil
	}
	return w.mutating.Admit(ctx, attrs, w.objs)
}

// validate runs the ValidatingAdmissionPolicies, then calls the validating webhooks.
func (w *webhookAdmission) validate(ctx context.Context, attrs admission.Attributes) error {
	if w == nil {
		return nil
	}
	if err := w.policy.validate(ctx, attrs, w.objs); err != nil {
		return err
	}
	if !w.validating.Handles(attrs.GetOperation()) {
		return nil
	}
	return w.validating.Validate(ctx, attrs, w.objs)
}

// pruneMutated prunes a custom object again after the mutating webhooks: what they added that
// the schema does not know is dropped silently, as kube-apiserver prunes on the way to storage;
// malformed metadata a webhook wrote is an error (kube-apiserver's storage encoding fails).
func pruneMutated(res *registry.Resource, obj runtime.Object) error {
	if !res.Custom || res.Prune == nil {
		return nil
	}
	if _, err := res.Prune(obj); err != nil {
		return apierrors.NewInternalError(fmt.Errorf("the object the mutating webhooks returned: %w", err))
	}
	return nil
}

// endpointResolver resolves a webhook's Service to one of its ready endpoints, as services/proxy
// finds one (an ExternalName service to its name).
type endpointResolver struct{ s *Server }

func (r endpointResolver) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	ctx := context.Background()
	obj, _, err := r.s.getObject(ctx, r.s.servicesRes(), namespace, name)
	if err != nil {
		return nil, fmt.Errorf("service %s/%s: %w", namespace, name, err)
	}
	svc := obj.(*corev1.Service)
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return &url.URL{Scheme: "https", Host: net.JoinHostPort(svc.Spec.ExternalName, strconv.Itoa(int(port)))}, nil
	}
	return r.s.serviceEndpoint(ctx, svc, strconv.Itoa(int(port)), "https", name)
}

// objectInterfaces are what the webhook plugins need of a scheme, over the served resources
// (custom ones included): drover has no internal versions, so an object converts between two
// versions of one resource through its stored version (Resource.Storage: autoscaling/v1 and v2
// HorizontalPodAutoscalers, a CRD's versions), and the versions of a resource are equivalent
// for matchPolicy Equivalent, as kube-apiserver registers them.
type objectInterfaces struct{ s *Server }

func (o objectInterfaces) GetObjectCreater() runtime.ObjectCreater     { return o }
func (o objectInterfaces) GetObjectTyper() runtime.ObjectTyper         { return o }
func (o objectInterfaces) GetObjectDefaulter() runtime.ObjectDefaulter { return o }
func (o objectInterfaces) GetObjectConvertor() runtime.ObjectConvertor { return o }
func (o objectInterfaces) GetEquivalentResourceMapper() runtime.EquivalentResourceMapper {
	return o
}

// EquivalentResourcesFor lists the served versions of resource (with subresource sub): the
// resources stored under the same keys (Resource.StorageGroupResource), so events.k8s.io/v1
// events with the core/v1 ones, as kube-apiserver's cohabiting resources.
func (o objectInterfaces) EquivalentResourcesFor(resource schema.GroupVersionResource, sub string) []schema.GroupVersionResource {
	var out []schema.GroupVersionResource
	stored := resource.GroupResource()
	if in, ok := o.s.resources.Lookup(resource); ok {
		stored = in.StorageGroupResource()
	}
	for _, r := range o.s.resources.All() {
		if r.StorageGroupResource() == stored && (sub == "" || r.HasSubresource(sub)) {
			out = append(out, r.GroupVersionResource())
		}
	}
	return out
}

// KindFor is the kind resource (or its subresource sub) takes.
func (o objectInterfaces) KindFor(resource schema.GroupVersionResource, sub string) schema.GroupVersionKind {
	r, ok := o.s.resources.Lookup(resource)
	if !ok {
		return schema.GroupVersionKind{}
	}
	return discovery.SubresourceKind(r, sub)
}

// resourceOfKind finds the resource serving gvk.
func (o objectInterfaces) resourceOfKind(gvk schema.GroupVersionKind) *registry.Resource {
	for _, r := range o.s.resources.All() {
		if r.GroupVersionKind() == gvk && r.New != nil {
			return r
		}
	}
	return nil
}

func (o objectInterfaces) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	if r := o.resourceOfKind(gvk); r != nil {
		return r.New(), nil
	}
	if obj, err := protobufScheme.New(gvk); err == nil {
		return obj, nil // a subresource's kind (Scale, PodExecOptions, ...)
	}
	return nil, runtime.NewNotRegisteredErrForKind("drover", gvk)
}

func (o objectInterfaces) ObjectKinds(obj runtime.Object) ([]schema.GroupVersionKind, bool, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return []schema.GroupVersionKind{u.GroupVersionKind()}, false, nil
	}
	return protobufScheme.ObjectKinds(obj)
}

func (o objectInterfaces) Recognizes(gvk schema.GroupVersionKind) bool {
	return o.resourceOfKind(gvk) != nil || protobufScheme.Recognizes(gvk)
}

func (o objectInterfaces) Default(obj runtime.Object) {
	if r := o.resourceOfKind(obj.GetObjectKind().GroupVersionKind()); r != nil && r.Default != nil {
		r.Default(obj)
	}
}

// Convert converts in into out: a copy when they are the same kind, else through the stored
// version of their resource (the mutated object back into the request's version too).
func (o objectInterfaces) Convert(in, out, _ interface{}) error {
	inObj, ok1 := in.(runtime.Object)
	outObj, ok2 := out.(runtime.Object)
	if !ok1 || !ok2 {
		return fmt.Errorf("cannot convert %T to %T", in, out)
	}
	from, to := o.kindOf(inObj), o.kindOf(outObj)
	src := inObj
	if from != to {
		inRes, outRes := o.resourceOfKind(from), o.resourceOfKind(to)
		if inRes == nil || outRes == nil || inRes.StorageGroupResource() != outRes.StorageGroupResource() {
			return fmt.Errorf("cannot convert %s to %s", from, to)
		}
		var err error
		if inRes.Storage != nil {
			if src, err = inRes.Storage.ToStorage(src); err != nil {
				return err
			}
		}
		if outRes.Storage != nil {
			if src, err = outRes.Storage.FromStorage(src); err != nil {
				return err
			}
		}
		src.GetObjectKind().SetGroupVersionKind(to)
	}
	vi, vo := reflect.ValueOf(src), reflect.ValueOf(outObj)
	if vi.Type() != vo.Type() || vi.Kind() != reflect.Ptr {
		return fmt.Errorf("cannot convert %T to %T", src, outObj)
	}
	vo.Elem().Set(vi.Elem())
	return nil
}

// kindOf is obj's kind: its apiVersion and kind when set, else its Go type's.
func (o objectInterfaces) kindOf(obj runtime.Object) schema.GroupVersionKind {
	if gvk := obj.GetObjectKind().GroupVersionKind(); !gvk.Empty() {
		return gvk
	}
	if kinds, _, err := protobufScheme.ObjectKinds(obj); err == nil && len(kinds) > 0 {
		return kinds[0]
	}
	return schema.GroupVersionKind{}
}

func (o objectInterfaces) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	return in, nil
}

func (o objectInterfaces) ConvertFieldLabel(gvk schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}
