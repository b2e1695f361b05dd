package podautoscaler

import (
	"context"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// scaler reads and writes the scale subresource of the workload kinds drover serves
// (ReplicationController, and apps/v1 ReplicaSet, Deployment and StatefulSet).
type scaler struct {
	client kubernetes.Interface
}

type scaleFuncs struct {
	get    func(ctx context.Context, name string, opts metav1.GetOptions) (*autoscalingv1.Scale, error)
	update func(ctx context.Context, name string, s *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error)
}

func (s scaler) funcs(ns string, ref autoscalingv2.CrossVersionObjectReference) (scaleFuncs, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return scaleFuncs{}, fmt.Errorf("invalid API version in scale target reference: %w", err)
	}
	switch {
	case gv.Group == "" && ref.Kind == "ReplicationController":
		c := s.client.CoreV1().ReplicationControllers(ns)
		return scaleFuncs{c.GetScale, c.UpdateScale}, nil
	case gv.Group == "apps" && ref.Kind == "ReplicaSet":
		c := s.client.AppsV1().ReplicaSets(ns)
		return scaleFuncs{c.GetScale, c.UpdateScale}, nil
	case gv.Group == "apps" && ref.Kind == "Deployment":
		c := s.client.AppsV1().Deployments(ns)
		return scaleFuncs{c.GetScale, c.UpdateScale}, nil
	case gv.Group == "apps" && ref.Kind == "StatefulSet":
		c := s.client.AppsV1().StatefulSets(ns)
		return scaleFuncs{c.GetScale, c.UpdateScale}, nil
	}
	return scaleFuncs{}, fmt.Errorf("unable to determine resource for scale target reference: no matches for kind %q in group %q", ref.Kind, gv.Group)
}

func (s scaler) get(ctx context.Context, ns string, ref autoscalingv2.CrossVersionObjectReference) (*autoscalingv1.Scale, error) {
	f, err := s.funcs(ns, ref)
	if err != nil {
		return nil, err
	}
	return f.get(ctx, ref.Name, metav1.GetOptions{})
}

func (s scaler) update(ctx context.Context, ns string, ref autoscalingv2.CrossVersionObjectReference, sc *autoscalingv1.Scale) error {
	f, err := s.funcs(ns, ref)
	if err != nil {
		return err
	}
	_, err = f.update(ctx, ref.Name, sc, metav1.UpdateOptions{})
	return err
}
