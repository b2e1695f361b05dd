package disruption

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// controllerScale is a pod's controller and the number of pods it wants.
type controllerScale struct {
	uid   types.UID
	scale int32
}

// finder maps a controller reference to its controller and scale; nil, nil means "not mine".
type finder func(ctx context.Context, ref *metav1.OwnerReference, ns string) (*controllerScale, error)

// scaleFinder reads the scale subresource of a controller of any kind.
type scaleFinder = finder

// finders are tried in Kubernetes' order: the workload kinds from the listers, then the scale
// subresource of whatever else owns the pod.
func (c *Controller) finders() []finder {
	fs := []finder{c.replicationController, c.deployment, c.replicaSet, c.statefulSet}
	if c.scales != nil {
		fs = append(fs, c.scales)
	}
	return fs
}

// groupKindIs reports whether ref names kind in one of groups.
func groupKindIs(ref *metav1.OwnerReference, kind string, groups ...string) (bool, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false, err
	}
	if ref.Kind != kind {
		return false, nil
	}
	for _, g := range groups {
		if g == gv.Group {
			return true, nil
		}
	}
	return false, nil
}

func (c *Controller) replicationController(_ context.Context, ref *metav1.OwnerReference, ns string) (*controllerScale, error) {
	if ok, err := groupKindIs(ref, "ReplicationController", ""); !ok || err != nil {
		return nil, err
	}
	rc, err := c.rcs.ReplicationControllers(ns).Get(ref.Name)
	if err != nil || rc.UID != ref.UID {
		return nil, nil
	}
	return &controllerScale{rc.UID, replicas(rc.Spec.Replicas)}, nil
}

// replicaSet is a ReplicaSet not controlled by a Deployment (those count as the Deployment).
func (c *Controller) replicaSet(_ context.Context, ref *metav1.OwnerReference, ns string) (*controllerScale, error) {
	if ok, err := groupKindIs(ref, "ReplicaSet", "apps", "extensions"); !ok || err != nil {
		return nil, err
	}
	rs, err := c.rss.ReplicaSets(ns).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil, nil
	}
	if owner := metav1.GetControllerOf(rs); owner != nil && owner.Kind == "Deployment" {
		return nil, nil
	}
	return &controllerScale{rs.UID, replicas(rs.Spec.Replicas)}, nil
}

func (c *Controller) deployment(_ context.Context, ref *metav1.OwnerReference, ns string) (*controllerScale, error) {
	if ok, err := groupKindIs(ref, "ReplicaSet", "apps", "extensions"); !ok || err != nil {
		return nil, err
	}
	rs, err := c.rss.ReplicaSets(ns).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil, nil
	}
	owner := metav1.GetControllerOf(rs)
	if owner == nil {
		return nil, nil
	}
	if ok, err := groupKindIs(owner, "Deployment", "apps", "extensions"); !ok || err != nil {
		return nil, err
	}
	d, err := c.deploys.Deployments(ns).Get(owner.Name)
	if err != nil || d.UID != owner.UID {
		return nil, nil
	}
	return &controllerScale{d.UID, replicas(d.Spec.Replicas)}, nil
}

func (c *Controller) statefulSet(_ context.Context, ref *metav1.OwnerReference, ns string) (*controllerScale, error) {
	if ok, err := groupKindIs(ref, "StatefulSet", "apps"); !ok || err != nil {
		return nil, err
	}
	ss, err := c.sts.StatefulSets(ns).Get(ref.Name)
	if err != nil || ss.UID != ref.UID {
		return nil, nil
	}
	return &controllerScale{ss.UID, replicas(ss.Spec.Replicas)}, nil
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// newScaleFinder reads GROUP/VERSION/namespaces/NS/RESOURCE/NAME/scale for a controller of any
// other kind, the resource found through discovery (Kubernetes' getScaleController with its
// RESTMapper): a kind without a scale subresource is an error, a controller gone is "not mine".
func newScaleFinder(client kubernetes.Interface) scaleFinder {
	return func(ctx context.Context, ref *metav1.OwnerReference, ns string) (*controllerScale, error) {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			return nil, err
		}
		disc := client.Discovery()
		list, err := disc.ServerResourcesForGroupVersion(ref.APIVersion)
		if err != nil {
			return nil, err
		}
		resource, hasScale := "", false
		for _, r := range list.APIResources {
			if r.Kind == ref.Kind && !strings.Contains(r.Name, "/") {
				resource = r.Name
			}
		}
		if resource == "" {
			return nil, fmt.Errorf("no matches for kind %q in version %q", ref.Kind, ref.APIVersion)
		}
		for _, r := range list.APIResources {
			hasScale = hasScale || (r.Name == resource+"/scale" && r.Kind == "Scale" && r.Group == "autoscaling")
		}
		gr := schema.GroupResource{Group: gv.Group, Resource: resource}
		if !hasScale {
			return nil, fmt.Errorf("%s does not implement the scale subresource", gr.String())
		}
		rc := disc.RESTClient()
		if rc == nil {
			return nil, errors.New("no REST client to read the scale subresource")
		}
		prefix := "/apis/" + ref.APIVersion
		if gv.Group == "" {
			prefix = "/api/" + gv.Version
		}
		raw, err := rc.Get().AbsPath(path.Join(prefix, "namespaces", ns, resource, ref.Name, "scale")).DoRaw(ctx)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var sc autoscalingv1.Scale
		if err := json.Unmarshal(raw, &sc); err != nil {
			return nil, fmt.Errorf("scale of %s %s: %w", gr.String(), ref.Name, err)
		}
		if sc.UID != ref.UID {
			return nil, nil
		}
		return &controllerScale{sc.UID, sc.Spec.Replicas}, nil
	}
}
