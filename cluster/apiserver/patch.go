package apiserver

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// patchBody reads a PATCH request: its type and bytes. Server-side apply is not served.
func patchBody(r *http.Request) (types.PatchType, []byte, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	pt := types.PatchType(ct)
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
	default:
		return "", nil, statusError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
			"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return "", nil, badRequest("reading request body: %v", err)
	}
	if len(data) > maxBody {
		return "", nil, statusError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "the request body is larger than 3 MiB")
	}
	if jsonDepth(data) > maxPatchDepth {
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
			"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	fn := func(cur runtime.Object) (runtime.Object, error) {
		patched, err := applyPatch(pt, data, cur, req.res.New())
		if err != nil {
			return nil, err
		}
		return decodeResource(w, r, patched, req.res)
	}
	ctx, warns := withWarnings(r.Context())
	obj, err := s.update(ctx, req.res, req.namespace, req.name, sub, fn, true, isDryRun(r))
	warns.send(w)
	s.respond(w, r, req, http.StatusOK, obj, err)
}
