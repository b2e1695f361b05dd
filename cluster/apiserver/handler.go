package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover-ci/drover/cluster/registry"
)

// serveResource handles every /api and /apis resource path.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			writeError(w, apierrors.NewInternalError(fmt.Errorf("the server panicked: %v", p)))
		}
	}()
	req, ok, err := parseRequest(r, s.resources)
	if !ok {
		writeError(w, apierrors.NewNotFound(schemaNone, r.URL.Path))
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	if err := checkAcceptable(r, req); err != nil {
		writeError(w, err)
		return
	}
	if !req.res.Stored() {
		if req.res.Group == registry.AuthenticationGroup {
			s.serveAuthentication(w, r, req)
			return
		}
		if req.res.Group == registry.AuthorizationGroup {
			s.serveAuthorizationReview(w, r, req)
			return
		}
		s.serveResourceMetrics(w, r, req)
		return
	}
	if req.subresource != "" {
		s.serveSubresource(w, r, req)
		return
	}
	switch req.verb {
	case "get":
		obj, _, err := s.getObject(r.Context(), req.res, req.namespace, req.name)
		s.respond(w, r, req, http.StatusOK, obj, err)
	case "list":
		s.serveList(w, r, req)
	case "watch":
		s.serveWatch(w, r, req)
	case "create":
		s.serveCreate(w, r, req)
	case "update":
		s.serveUpdate(w, r, req, "")
	case "patch":
		s.servePatch(w, r, req, "")
	case "delete":
		s.serveDelete(w, r, req)
	case "deletecollection":
		s.serveDeleteCollection(w, r, req)
	default:
		writeError(w, apierrors.NewMethodNotSupported(req.gr(), r.Method))
	}
}

// respond writes obj (as JSON, YAML or a Table, as the client asked) or err.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, req *request, code int, obj runtime.Object, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeObject(w, r, req, code, obj)
}

func (s *Server) serveCreate(w http.ResponseWriter, r *http.Request, req *request) {
	if req.name != "" {
		writeError(w, apierrors.NewMethodNotSupported(req.gr(), r.Method))
		return
	}
	if err := writeOptionsError(r, "CreateOptions", false); err != nil {
		writeError(w, err)
		return
	}
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj, err := decodeResource(w, r, data, req.res)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, warns := withWarnings(withFieldManager(r.Context(), r))
	obj, err = s.create(ctx, req.res, req.namespace, obj, isDryRun(r))
	for _, m := range warns.msgs {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", m))
	}
	s.respond(w, r, req, http.StatusCreated, obj, err)
}

func (s *Server) serveUpdate(w http.ResponseWriter, r *http.Request, req *request, sub string) {
	if err := writeOptionsError(r, "UpdateOptions", false); err != nil {
		writeError(w, err)
		return
	}
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	obj, err := decodeResource(w, r, data, req.res)
	if err != nil {
		writeError(w, err)
		return
	}
	if n := accessor(obj).GetName(); n != "" && n != req.name {
		writeError(w, badRequest("the name of the object (%s) does not match the name on the URL (%s)", n, req.name))
		return
	}
	accessor(obj).SetName(req.name)
	ctx, warns := withWarnings(withFieldManager(r.Context(), r))
	obj, err = s.update(ctx, req.res, req.namespace, req.name, sub, replaceWith(obj), false, isDryRun(r))
	warns.send(w)
	s.respond(w, r, req, http.StatusOK, obj, err)
}

func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request, req *request) {
	opts, err := deleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := refuseSystemPriorityClassDelete(req.res, req.name); err != nil {
		writeError(w, err)
		return
	}
	ctx, warns := withWarnings(r.Context())
	obj, err := s.remove(ctx, req.res, req.namespace, req.name, opts)
	warns.send(w)
	s.respond(w, r, req, http.StatusOK, obj, err)
}

func (s *Server) serveDeleteCollection(w http.ResponseWriter, r *http.Request, req *request) {
	opts, err := deleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	sel, err := parseSelectors(r, req.res)
	if err != nil {
		writeError(w, err)
		return
	}
	objs, rev, err := s.listObjects(r.Context(), req.res, req.namespace)
	if err != nil {
		writeError(w, err)
		return
	}
	var deleted []runtime.Object
	ctx, warns := withWarnings(r.Context())
	for _, obj := range objs {
		if !sel.matches(req.res, obj) {
			continue
		}
		m := accessor(obj)
		d, err := s.remove(ctx, req.res, m.GetNamespace(), m.GetName(), opts)
		if err != nil && !apierrors.IsNotFound(err) {
			warns.send(w)
			writeError(w, err)
			return
		}
		if d != nil {
			deleted = append(deleted, d)
		}
	}
	warns.send(w)
	s.writeList(w, r, req, deleted, rev)
}

// deleteOptions reads DeleteOptions from the body (if any) and the query.
func deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	if r.ContentLength != 0 && r.Body != nil {
		// A body that cannot be read or decoded refuses the request: its options (a dry run,
		// a precondition) would otherwise be dropped and the object deleted anyway.
		data, err := readBody(r)
		switch {
		case errors.Is(err, errEmptyBody):
			// No options: a blank body (or a chunked one with no bytes) is none.
		case err != nil:
			return nil, err
		default:
			// DeleteOptions is served in every group version (client-go's typed clients send
			// e.g. batch/v1), as in Kubernetes.
			gv := deleteOptionsVersion(data)
			o, derr := decodeBody(noHeaders{}, r, data, gv.WithKind("DeleteOptions"), func() runtime.Object { return &metav1.DeleteOptions{} })
			if derr != nil {
				return nil, derr
			}
			opts = o.(*metav1.DeleteOptions)
		}
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		g, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, badRequest("gracePeriodSeconds: %q is not an integer", v)
		}
		opts.GracePeriodSeconds = &g
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" {
		b := v == "true"
		opts.OrphanDependents = &b
	}
	if q.Get("dryRun") == "All" {
		opts.DryRun = []string{"All"}
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, badRequest("propagationPolicy: Unsupported value: %q: supported values: \"Background\", \"Foreground\", \"Orphan\"", *p)
		}
	}
	return opts, nil
}

func isDryRun(r *http.Request) bool { return r.URL.Query().Get("dryRun") == "All" }

// noHeaders swallows headers a helper would set (warnings for DeleteOptions bodies).
type noHeaders struct{}

func (noHeaders) Header() http.Header         { return http.Header{} }
func (noHeaders) Write(b []byte) (int, error) { return len(b), nil }
func (noHeaders) WriteHeader(int)             {}

// deleteOptionsVersion is the group version a DeleteOptions body names (meta.k8s.io/v1 when it
// names none or cannot be parsed; decoding then reports the problem).
func deleteOptionsVersion(data []byte) schema.GroupVersion {
	var tm metav1.TypeMeta
	if err := json.Unmarshal(data, &tm); err == nil && tm.APIVersion != "" {
		if gv, err := schema.ParseGroupVersion(tm.APIVersion); err == nil {
			return gv
		}
	}
	return metav1.SchemeGroupVersion
}
