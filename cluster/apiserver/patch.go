package apiserver

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// patchBody reads a PATCH request: its type and bytes.
func patchBody(r *http.Request) (types.PatchType, []byte, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	pt := types.PatchType(ct)
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType:
	default:
		return "", nil, statusError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
			"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return "", nil, badRequest("reading request body: %v", err)
	}
	if len(data) > maxBody {
		return "", nil, statusError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "the request body is larger than 3 MiB")
	}
	if pt != types.ApplyYAMLPatchType && jsonDepth(data) > maxPatchDepth {
		return "", nil, badRequest("the patch is nested more than %d levels deep", maxPatchDepth)
	}
	return pt, data, nil
}

// maxPatchDepth bounds the nesting of a patch document: applying a merge patch costs time
// quadratic in its depth, and no API object comes near this depth.
const maxPatchDepth = 100

// jsonDepth returns the deepest nesting of objects and arrays in a JSON text (strings skipped;
// invalid JSON is left for the decoder to reject).
func jsonDepth(data []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// applyPatch applies a patch of type pt to the JSON of cur; schema is an empty object of cur's
// Go type, used by strategic merge patch for its merge keys.
func applyPatch(pt types.PatchType, patch []byte, cur interface{}, schema runtime.Object) ([]byte, error) {
	orig, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	var out []byte
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, badRequest("the JSON patch is invalid: %v", err)
		}
		out, err = p.Apply(orig)
		if err != nil {
			return nil, statusError(http.StatusUnprocessableEntity, "Invalid", "the JSON patch could not be applied: "+err.Error())
		}
	case types.MergePatchType:
		out, err = jsonpatch.MergePatch(orig, patch)
		if err != nil {
			return nil, badRequest("the merge patch is invalid: %v", err)
		}
	case types.StrategicMergePatchType:
		out, err = strategicMerge(orig, patch, schema)
		if err != nil {
			return nil, badRequest("the strategic merge patch is invalid: %v", err)
		}
	}
	return out, nil
}

// strategicMerge is strategicpatch.StrategicMergePatch, which panics on some malformed patches
// (a merge key that is a list or an object): such a patch is an error, not a crash.
func strategicMerge(orig, patch []byte, schema runtime.Object) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return strategicpatch.StrategicMergePatch(orig, patch, schema)
}

// servePatch patches the main resource or its status.
func (s *Server) servePatch(w http.ResponseWriter, r *http.Request, req *request, sub string) {
	pt, data, err := patchBody(r)
	if err == nil && pt == types.StrategicMergePatchType && req.res.Custom {
		// Custom resources have no Go type to take merge keys from (kube-apiserver: the same 415).
		err = statusError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
			"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
	}
	if err == nil {
		err = writeOptionsError(r, "PatchOptions", pt == types.ApplyYAMLPatchType)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if pt == types.ApplyYAMLPatchType {
		s.serveApply(w, r, req, sub, data)
		return
	}
	fn := func(cur runtime.Object) (runtime.Object, error) {
		patched, err := applyPatch(pt, data, cur, req.res.New())
		if err != nil {
			return nil, err
		}
		return decodeResource(w, r, patched, req.res)
	}
	ctx, warns := withWarnings(withFieldManager(r.Context(), r))
	obj, err := s.update(ctx, req.res, req.namespace, req.name, sub, fn, true, isDryRun(r))
	warns.send(w)
	s.respond(w, r, req, http.StatusOK, obj, err)
}

// serveApply serves server-side apply (application/apply-patch+yaml), as kube-apiserver's
// applyPatcher: the applied configuration is merged into the object by the field manager
// (fieldManager names the applier; force takes fields other managers own instead of
// answering 409 with the conflicts), creating the object when there is none; with
// fieldValidation Strict a configuration with duplicate fields is refused (Warn: warned).
func (s *Server) serveApply(w http.ResponseWriter, r *http.Request, req *request, sub string, data []byte) {
	if sub != "" && sub != "status" {
		writeError(w, statusError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
			fmt.Sprintf("server-side apply of the %s subresource is not served", sub)))
		return
	}
	patchObj := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &patchObj); err != nil {
		writeError(w, badRequest("error decoding YAML: %v", err))
		return
	}
	q := r.URL.Query()
	manager := q.Get("fieldManager")
	forceP, _ := forceParam(r) // checked with the options
	force := forceP != nil && *forceP
	fm, err := s.fields.manager(req.res, sub)
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	ctx, warns := withWarnings(withApplied(withFieldManager(r.Context(), r)))
	apply := func(cur runtime.Object) (runtime.Object, error) {
		setKind(req.res, cur)
		obj, err := fm.Apply(cur, &unstructured.Unstructured{Object: runtime.DeepCopyJSON(patchObj)}, manager, force)
		if err != nil {
			return nil, applyError(err)
		}
		switch q.Get("fieldValidation") {
		case "Strict", "Warn":
			if err := yaml.UnmarshalStrict(data, &map[string]interface{}{}); err != nil {
				if q.Get("fieldValidation") == "Strict" {
					return nil, badRequest("error strict decoding YAML: %v", err)
				}
				addWarning(ctx, err.Error())
			}
		}
		m := accessor(obj)
		if m.GetName() != req.name {
			if m.GetName() == "" {
				return nil, badRequest("the name of the object (%s based on URL) was undeterminable: name or generateName is required", req.name)
			}
			return nil, badRequest("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), req.name)
		}
		if req.res.Namespaced && m.GetNamespace() != "" && m.GetNamespace() != req.namespace {
			return nil, badRequest("the namespace of the object (%s) does not match the namespace on the request (%s)", m.GetNamespace(), req.namespace)
		}
		return obj, nil
	}
	var obj runtime.Object
	code := http.StatusOK
	for attempt := 0; ; attempt++ {
		obj, err = s.update(ctx, req.res, req.namespace, req.name, sub, apply, true, isDryRun(r))
		if !apierrors.IsNotFound(err) || sub != "" || attempt > 2 {
			break
		}
		// No object yet: the configuration applied to an empty one is created.
		if _, _, gerr := s.getObject(ctx, req.res, req.namespace, req.name); !apierrors.IsNotFound(gerr) {
			continue // it is there now (or the read failed, which the update will meet)
		}
		if obj, err = apply(newObjectOf(req.res)); err != nil {
			break
		}
		if accessor(obj).GetUID() != "" {
			err = apierrors.NewConflict(req.gr(), req.name, fmt.Errorf("uid mismatch: the provided object specified uid %s, and no existing object was found", accessor(obj).GetUID()))
			break
		}
		obj, err = s.create(ctx, req.res, req.namespace, obj, isDryRun(r))
		if !apierrors.IsAlreadyExists(err) {
			code = http.StatusCreated
			break
		}
	}
	warns.send(w)
	s.respond(w, r, req, code, obj, err)
}
