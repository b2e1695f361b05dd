package replication

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// kind is the controller kind one manager serves. The manager works on ReplicaSets; a
// ReplicationController is served through a conversion to and from ReplicaSet, as
// Kubernetes' RC manager is the ReplicaSet manager over such a conversion.
type kind interface {
	gvk() schema.GroupVersionKind
	// get and list read the informer cache.
	get(ns, name string) (*appsv1.ReplicaSet, error)
	list(ns string) ([]*appsv1.ReplicaSet, error)
	// fresh reads the API server (not the cache).
	fresh(ctx context.Context, ns, name string) (*appsv1.ReplicaSet, error)
	// updateStatus writes rs.Status through the status subresource.
	updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error)
	// object is rs as its own kind, for events.
	object(rs *appsv1.ReplicaSet) runtime.Object
}

var (
	rcKind = corev1.SchemeGroupVersion.WithKind("ReplicationController")
	rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

// rsKindOps serves apps/v1 ReplicaSets.
type rsKindOps struct {
	client kubernetes.Interface
	lister appslisters.ReplicaSetLister
}

func (k rsKindOps) gvk() schema.GroupVersionKind { return rsKind }

func (k rsKindOps) get(ns, name string) (*appsv1.ReplicaSet, error) {
	return k.lister.ReplicaSets(ns).Get(name)
}

func (k rsKindOps) list(ns string) ([]*appsv1.ReplicaSet, error) {
	return k.lister.ReplicaSets(ns).List(labels.Everything())
}

func (k rsKindOps) fresh(ctx context.Context, ns, name string) (*appsv1.ReplicaSet, error) {
	return k.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (k rsKindOps) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	return k.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
}

func (k rsKindOps) object(rs *appsv1.ReplicaSet) runtime.Object { return rs }

// rcKindOps serves v1 ReplicationControllers converted to ReplicaSets.
type rcKindOps struct {
	client kubernetes.Interface
	lister corelisters.ReplicationControllerLister
}

func (k rcKindOps) gvk() schema.GroupVersionKind { return rcKind }

func (k rcKindOps) get(ns, name string) (*appsv1.ReplicaSet, error) {
	rc, err := k.lister.ReplicationControllers(ns).Get(name)
	if err != nil {
		return nil, err
	}
	return rcToRS(rc), nil
}

func (k rcKindOps) list(ns string) ([]*appsv1.ReplicaSet, error) {
	rcs, err := k.lister.ReplicationControllers(ns).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := make([]*appsv1.ReplicaSet, len(rcs))
	for i, rc := range rcs {
		out[i] = rcToRS(rc)
	}
	return out, nil
}

func (k rcKindOps) fresh(ctx context.Context, ns, name string) (*appsv1.ReplicaSet, error) {
	rc, err := k.client.CoreV1().ReplicationControllers(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return rcToRS(rc), nil
}

func (k rcKindOps) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	rc, err := k.lister.ReplicationControllers(rs.Namespace).Get(rs.Name)
	if err != nil || rc.UID != rs.UID || rc.ResourceVersion != rs.ResourceVersion {
		// The cache is behind (or ahead of) the object we computed on: read the server's.
		if rc, err = k.client.CoreV1().ReplicationControllers(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{}); err != nil {
			return nil, err
		}
	}
	next := rc.DeepCopy()
	next.ResourceVersion = rs.ResourceVersion
	next.Status = rsStatusToRC(rs.Status)
	out, err := k.client.CoreV1().ReplicationControllers(rs.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return rcToRS(out), nil
}

func (k rcKindOps) object(rs *appsv1.ReplicaSet) runtime.Object {
	return &corev1.ReplicationController{ObjectMeta: rs.ObjectMeta}
}

// rcToRS is Kubernetes' conversion of a ReplicationController to a ReplicaSet: the
// equality selector becomes matchLabels.
func rcToRS(rc *corev1.ReplicationController) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: *rc.ObjectMeta.DeepCopy(),
		Spec: appsv1.ReplicaSetSpec{
			Replicas: rc.Spec.Replicas, MinReadySeconds: rc.Spec.MinReadySeconds,
			Selector: &metav1.LabelSelector{MatchLabels: rc.Spec.Selector},
		},
		Status: appsv1.ReplicaSetStatus{
			Replicas: rc.Status.Replicas, FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
			ReadyReplicas: rc.Status.ReadyReplicas, AvailableReplicas: rc.Status.AvailableReplicas,
			ObservedGeneration: rc.Status.ObservedGeneration,
		},
	}
	if rc.Spec.Template != nil {
		rs.Spec.Template = *rc.Spec.Template.DeepCopy()
	}
	for _, c := range rc.Status.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetConditionType(c.Type), Status: c.Status, LastTransitionTime: c.LastTransitionTime,
			Reason: c.Reason, Message: c.Message,
		})
	}
	return rs
}

// rsStatusToRC converts a ReplicaSet status back to a ReplicationController's.
func rsStatusToRC(st appsv1.ReplicaSetStatus) corev1.ReplicationControllerStatus {
	out := corev1.ReplicationControllerStatus{
		Replicas: st.Replicas, FullyLabeledReplicas: st.FullyLabeledReplicas, ReadyReplicas: st.ReadyReplicas,
		AvailableReplicas: st.AvailableReplicas, ObservedGeneration: st.ObservedGeneration,
	}
	for _, c := range st.Conditions {
		out.Conditions = append(out.Conditions, corev1.ReplicationControllerCondition{
			Type: corev1.ReplicationControllerConditionType(c.Type), Status: c.Status, LastTransitionTime: c.LastTransitionTime,
			Reason: c.Reason, Message: c.Message,
		})
	}
	return out
}
