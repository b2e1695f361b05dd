package apiserver

import (
	"fmt"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/drover-ci/drover/cluster/registry"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// serveSubresource handles status, scale, binding, log, eviction, finalize,
// ephemeralcontainers (get, update and patch of the pod, only its ephemeral containers
// changing), the streaming
// subresources (exec, attach, portforward) and proxy.
func (s *Server) serveSubresource(w http.ResponseWriter, r *http.Request, req *request) {
	switch {
	case req.subresource == "status" || req.subresource == "finalize" || req.subresource == "approval" ||
		req.subresource == "ephemeralcontainers":
		switch req.verb {
		case "get":
			obj, _, err := s.getObject(r.Context(), req.res, req.namespace, req.name)
			s.respond(w, r, req, http.StatusOK, obj, err)
		case "update":
			s.serveUpdate(w, r, req, subFor(req))
		case "patch":
			s.servePatch(w, r, req, subFor(req))
		default:
			writeError(w, apierrors.NewMethodNotSupported(req.gr(), r.Method))
		}
	case req.subresource == "scale":
		s.serveScale(w, r, req)
	case req.subresource == "binding" && req.verb == "create":
		s.serveBinding(w, r, req)
	case req.subresource == "log" && req.verb == "get":
		s.serveLog(w, r, req)
	case req.subresource == "token":
		s.serveTokenRequest(w, r, req)
	case req.subresource == "eviction":
		s.serveEviction(w, r, req)
	case req.subresource == "exec" || req.subresource == "attach" || req.subresource == "portforward":
		s.serveStream(w, r, req)
	case req.subresource == "proxy":
		s.serveProxy(w, r, req)
	default:
		writeError(w, apierrors.NewMethodNotSupported(req.gr(), r.Method))
	}
}

// subFor maps a subresource to the update mode of prepareUpdate.
func subFor(req *request) string {
	return req.subresource
}

// serveScale serves the autoscaling/v1 Scale of a resource with a Scale hook (replication
// controllers, deployments, replica sets, stateful sets).
func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	var obj runtime.Object
	var err error
	switch req.verb {
	case "get":
		obj, _, err = s.getObject(ctx, req.res, req.namespace, req.name)
	case "update":
		var data []byte
		if data, err = readBody(r); err == nil {
			var body runtime.Object
			if body, err = decodeBody(w, r, data, scaleGVK, func() runtime.Object { return &autoscalingv1.Scale{} }); err == nil {
				obj, err = s.update(withFieldManager(ctx, r), req.res, req.namespace, req.name, "", setReplicas(req.res, body.(*autoscalingv1.Scale)), false, isDryRun(r))
			}
		}
	case "patch":
		pt, data, perr := patchBody(r)
		if perr == nil && pt == types.ApplyYAMLPatchType {
			// Server-side apply of a Scale (kube-apiserver maps its managed fields onto the
			// scaled object's) is not served: refused rather than merged some other way.
			perr = statusError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
				"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (server-side apply of the scale subresource is not served)")
		}
		if perr != nil {
			writeError(w, perr)
			return
		}
		obj, err = s.update(withFieldManager(ctx, r), req.res, req.namespace, req.name, "", func(cur runtime.Object) (runtime.Object, error) {
			sc, err := scaleOf(req.res, cur)
			if err != nil {
				return nil, err
			}
			patched, err := applyPatch(pt, data, sc, &autoscalingv1.Scale{})
			if err != nil {
				return nil, err
			}
			body, err := decodeBody(w, r, patched, scaleGVK, func() runtime.Object { return &autoscalingv1.Scale{} })
			if err != nil {
				return nil, err
			}
			return setReplicas(req.res, body.(*autoscalingv1.Scale))(cur)
		}, true, isDryRun(r))
	default:
		err = apierrors.NewMethodNotSupported(req.gr(), r.Method)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	sc, err := scaleOf(req.res, obj)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sc)
}

// scaleOf returns the Scale view of obj, a resource with a Scale hook.
func scaleOf(res *registry.Resource, obj runtime.Object) (*autoscalingv1.Scale, error) {
	if res.Scale == nil {
		return nil, badRequest("scale is not supported for %T", obj)
	}
	spec, status, selector := res.Scale.Get(obj)
	m := accessor(obj)
	sc := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp()},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}
	sc.APIVersion, sc.Kind = "autoscaling/v1", "Scale"
	return sc, nil
}

// setReplicas is an updateFunc copying a Scale's replicas (and its resourceVersion
// precondition) onto the scaled object.
func setReplicas(res *registry.Resource, sc *autoscalingv1.Scale) updateFunc {
	return func(cur runtime.Object) (runtime.Object, error) {
		if res.Scale == nil {
			return nil, badRequest("scale is not supported for %T", cur)
		}
		m := accessor(cur)
		if sc.Spec.Replicas < 0 {
			return nil, invalid("Scale", m.GetName(), "autoscaling", field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), sc.Spec.Replicas, "must be greater than or equal to 0")})
		}
		if sc.ResourceVersion != "" {
			m.SetResourceVersion(sc.ResourceVersion)
		}
		res.Scale.Set(cur, sc.Spec.Replicas)
		return cur, nil
	}
}

// serveBinding assigns a pod to a node (pods/binding), once.
func (s *Server) serveBinding(w http.ResponseWriter, r *http.Request, req *request) {
	data, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := decodeBody(w, r, data, corev1.SchemeGroupVersion.WithKind("Binding"), func() runtime.Object { return &corev1.Binding{} })
	if err != nil {
		writeError(w, err)
		return
	}
	b := body.(*corev1.Binding)
	if b.Target.Name == "" {
		writeError(w, invalid("Binding", req.name, "", field.ErrorList{field.Required(field.NewPath("target", "name"), "")}))
		return
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		writeError(w, invalid("Binding", req.name, "", field.ErrorList{field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node"})}))
		return
	}
	_, err = s.update(r.Context(), req.res, req.namespace, req.name, "binding", func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(req.gr(), req.name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", req.name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(req.gr(), req.name, fmt.Errorf("pod %s is already assigned to node %q", req.name, pod.Spec.NodeName))
		}
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(req.gr(), req.name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
		}
		pod.Spec.NodeName = b.Target.Name
		setPodScheduled(pod, s.now())
		return pod, nil
	}, true, isDryRun(r))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

func setPodScheduled(pod *corev1.Pod, now interface{ Unix() int64 }) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodScheduled {
			pod.Status.Conditions[i].Status = corev1.ConditionTrue
			pod.Status.Conditions[i].Reason, pod.Status.Conditions[i].Message = "", ""
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
		LastTransitionTime: metav1.Unix(now.Unix(), 0)})
}
