package apiserver

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"github.com/drover-ci/drover/cluster/registry"
)

// maxBody bounds request bodies (Kubernetes' limit is 3 MiB).
const maxBody = 3 << 20

// errEmptyBody is readBody's answer to a blank body: a 400 where a body is required.
var errEmptyBody = badRequest("the request body is empty")

// readBody reads a JSON or YAML request body and returns it as JSON.
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, badRequest("reading request body: %v", err)
	}
	if len(data) > maxBody {
		return nil, statusError(http.StatusRequestEntityTooLarge, metav1.StatusReasonRequestEntityTooLarge, "the request body is larger than 3 MiB")
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, errEmptyBody
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/yaml" || ct == "application/apply-patch+yaml":
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, badRequest("the request body is not valid YAML: %v", err)
		}
		return j, nil
	case ct == "application/vnd.kubernetes.protobuf":
		return protobufToJSON(data)
	case strings.Contains(ct, "protobuf") || strings.Contains(ct, "cbor"):
		return nil, statusError(http.StatusUnsupportedMediaType, metav1.StatusReasonUnsupportedMediaType,
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got %s)", ct))
	}
	return data, nil
}

// protobufScheme has the Go types of every built-in kind (client-go's, apiextensions'): the
// protobuf decoder's, and the admission webhooks' typer for subresource kinds.
var protobufScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(scheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(apiregistrationv1.AddToScheme(s))
	return s
}()

// protobufSerializer reads the protobuf bodies client-go's typed clients send by default
// (the apiextensions clientset's too).
var protobufSerializer = protobuf.NewSerializer(protobufScheme, protobufScheme)

// protobufToJSON decodes a Kubernetes protobuf envelope into its typed object and returns the
// object's JSON, so that every body goes through the same JSON decoding and validation.
func protobufToJSON(data []byte) ([]byte, error) {
	obj, gvk, err := protobufSerializer.Decode(data, nil, nil)
	if err != nil {
		return nil, badRequest("the request body is not a valid Kubernetes protobuf message: %v", err)
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, badRequest("the request body cannot be converted: %v", err)
	}
	return b, nil
}

// decodeBody decodes a JSON body into a new object of res, checking apiVersion and kind when
// the body gives them, and handling unknown or duplicate fields as fieldValidation says
// (Strict: 400; Warn, the default: a Warning header; Ignore: nothing).
func decodeBody(w http.ResponseWriter, r *http.Request, data []byte, gvk schema.GroupVersionKind, newObj func() runtime.Object) (runtime.Object, error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, &tm); err != nil {
		return nil, badRequest("the request body is not a valid JSON object: %v", err)
	}
	if tm.APIVersion != "" && tm.APIVersion != gvk.GroupVersion().String() {
		return nil, badRequest("the API version in the data (%s) does not match the expected API version (%s)", tm.APIVersion, gvk.GroupVersion())
	}
	if tm.Kind != "" && tm.Kind != gvk.Kind {
		return nil, badRequest("the kind in the data (%s) does not match the expected kind (%s)", tm.Kind, gvk.Kind)
	}
	obj := newObj()
	strict, err := kjson.UnmarshalStrict(data, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, badRequest("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err)
	}
	msgs := make([]string, len(strict))
	for i, e := range strict {
		msgs[i] = e.Error()
	}
	if err := reportStrict(w, r, gvk, msgs); err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

// reportStrict answers the strict decoding errors msgs as the request's fieldValidation says:
// Strict: a 400 error; Ignore: nothing; Warn (the default): a Warning header each.
func reportStrict(w http.ResponseWriter, r *http.Request, gvk schema.GroupVersionKind, msgs []string) error {
	if len(msgs) == 0 {
		return nil
	}
	switch r.URL.Query().Get("fieldValidation") {
	case "Strict":
		return badRequest("%s in version %q cannot be handled as a %s: strict decoding error: %s", gvk.Kind, gvk.Version, gvk.Kind, strings.Join(msgs, ", "))
	case "Ignore":
	default:
		for _, m := range msgs {
			w.Header().Add("Warning", fmt.Sprintf("299 - %q", m))
		}
	}
	return nil
}

// decodeResource decodes a body for res.
func decodeResource(w http.ResponseWriter, r *http.Request, data []byte, res *registry.Resource) (runtime.Object, error) {
	if res.Custom {
		return decodeCustom(w, r, data, res)
	}
	return decodeBody(w, r, data, res.GroupVersionKind(), res.New)
}

// decodeCustom decodes a custom object as kube-apiserver's CRD handler does: any JSON object
// (duplicate fields are strict errors), apiVersion and kind checked, then pruned by its schema —
// each field pruned is an unknown field (`unknown field "spec.foo"`).
func decodeCustom(w http.ResponseWriter, r *http.Request, data []byte, res *registry.Resource) (runtime.Object, error) {
	gvk := res.GroupVersionKind()
	var m map[string]interface{}
	strict, err := kjson.UnmarshalStrict(data, &m, kjson.DisallowDuplicateFields)
	if err != nil || m == nil {
		if err == nil {
			err = fmt.Errorf("the body is not a JSON object")
		}
		return nil, badRequest("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err)
	}
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	switch {
	case apiVersion == "" || kind == "":
		// kube-apiserver's unstructured decoder needs both.
		missing := "apiVersion"
		if apiVersion != "" {
			missing = "kind"
		}
		return nil, badRequest("Object '%s' is missing in '%s'", strings.ToUpper(missing[:1])+missing[1:], strings.TrimSpace(string(data)))
	case apiVersion != gvk.GroupVersion().String():
		return nil, badRequest("the API version in the data (%s) does not match the expected API version (%s)", apiVersion, gvk.GroupVersion())
	case kind != gvk.Kind:
		return nil, badRequest("the kind in the data (%s) does not match the expected kind (%s)", kind, gvk.Kind)
	}
	obj := &unstructured.Unstructured{Object: m}
	msgs := make([]string, 0, len(strict))
	for _, e := range strict {
		msgs = append(msgs, e.Error())
	}
	if res.Prune != nil {
		unknown, err := res.Prune(obj)
		if err != nil {
			return nil, badRequest("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err)
		}
		for _, p := range unknown {
			msgs = append(msgs, fmt.Sprintf("unknown field %q", p))
		}
	}
	if err := reportStrict(w, r, gvk, msgs); err != nil {
		return nil, err
	}
	return obj, nil
}

// statusError builds an API error with any code and reason.
func statusError(code int, reason metav1.StatusReason, msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg}}
}
