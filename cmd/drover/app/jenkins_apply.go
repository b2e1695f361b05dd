package app

import (
	"context"
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
)

// applyObject creates obj or updates the existing object of that name, and says which
// ("created", "configured", "unchanged"). Spec fields the API server fills or that cannot
// change (a Service's cluster IP, a claim's or volume's spec once bound) are kept.
func applyObject(ctx context.Context, kube kubernetes.Interface, obj runtime.Object) (string, error) {
	core := kube.CoreV1()
	switch o := obj.(type) {
	case *corev1.Namespace:
		return apply(ctx, o, core.Namespaces().Get, core.Namespaces().Create, core.Namespaces().Update,
			func(cur, want *corev1.Namespace) bool { return mergeMeta(&cur.ObjectMeta, want.ObjectMeta) })
	case *corev1.Secret:
		c := core.Secrets(o.Namespace)
		return apply(ctx, o, c.Get, c.Create, c.Update, func(cur, want *corev1.Secret) bool {
			ch := mergeMeta(&cur.ObjectMeta, want.ObjectMeta)
			if !reflect.DeepEqual(cur.Data, want.Data) || cur.Type != want.Type {
				cur.Data, cur.StringData, cur.Type, ch = want.Data, nil, want.Type, true
			}
			return ch
		})
	case *corev1.ConfigMap:
		c := core.ConfigMaps(o.Namespace)
		return apply(ctx, o, c.Get, c.Create, c.Update, func(cur, want *corev1.ConfigMap) bool {
			ch := mergeMeta(&cur.ObjectMeta, want.ObjectMeta)
			if !reflect.DeepEqual(cur.Data, want.Data) {
				cur.Data, ch = want.Data, true
			}
			return ch
		})
	case *corev1.PersistentVolume:
		c := core.PersistentVolumes()
		return apply(ctx, o, c.Get, c.Create, c.Update, func(cur, want *corev1.PersistentVolume) bool {
			return mergeMeta(&cur.ObjectMeta, want.ObjectMeta)
		})
	case *corev1.PersistentVolumeClaim:
		c := core.PersistentVolumeClaims(o.Namespace)
		return apply(ctx, o, c.Get, c.Create, c.Update, func(cur, want *corev1.PersistentVolumeClaim) bool {
			return mergeMeta(&cur.ObjectMeta, want.ObjectMeta)
		})
	case *corev1.Service:
		c := core.Services(o.Namespace)
		return apply(ctx, o, c.Get, c.Create, c.Update, func(cur, want *corev1.Service) bool {
			ch := mergeMeta(&cur.ObjectMeta, want.ObjectMeta)
			if !reflect.DeepEqual(cur.Spec.Selector, want.Spec.Selector) || !samePorts(cur.Spec.Ports, want.Spec.Ports) {
				cur.Spec.Selector, ch = want.Spec.Selector, true
				for i := range want.Spec.Ports {
					for _, p := range cur.Spec.Ports {
						if p.Name == want.Spec.Ports[i].Name && want.Spec.Ports[i].NodePort == 0 {
							want.Spec.Ports[i].NodePort = p.NodePort
						}
					}
				}
				cur.Spec.Ports = want.Spec.Ports
			}
			return ch
		})
	case *appsv1.StatefulSet:
		return applyStatefulSet(ctx, kube.AppsV1().StatefulSets(o.Namespace), o)
	case *corev1.ReplicationController:
		c := core.ReplicationControllers(o.Namespace)
		return apply(ctx, o, c.Get, c.Create, c.Update, func(cur, want *corev1.ReplicationController) bool {
			ch := mergeMeta(&cur.ObjectMeta, want.ObjectMeta)
			before := cur.Spec.DeepCopy()
			cur.Spec = want.Spec
			// The API server defaults the template; compare after a round trip through it.
			if ch || !reflect.DeepEqual(stripDefaults(before), stripDefaults(&cur.Spec)) {
				return true
			}
			cur.Spec = *before
			return false
		})
	}
	return "", fmt.Errorf("drover jenkins install cannot apply a %T", obj)
}

type getFn[T any] func(context.Context, string, metav1.GetOptions) (T, error)
type createFn[T any] func(context.Context, T, metav1.CreateOptions) (T, error)
type updateFn[T any] func(context.Context, T, metav1.UpdateOptions) (T, error)

// apply is get, then create or merge + update.
func apply[T interface {
	metav1.Object
	runtime.Object
}](ctx context.Context, want T, get getFn[T], create createFn[T], update updateFn[T], merge func(cur, want T) bool) (string, error) {
	cur, err := get(ctx, want.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := create(ctx, want, metav1.CreateOptions{}); err != nil {
			return "", err
		}
		return "created", nil
	}
	if err != nil {
		return "", err
	}
	if !merge(cur, want) {
		return "unchanged", nil
	}
	if _, err := update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return "", err
	}
	return "configured", nil
}

// mergeMeta sets want's labels and annotations on cur; true when something changed.
func mergeMeta(cur *metav1.ObjectMeta, want metav1.ObjectMeta) bool {
	ch := false
	for k, v := range want.Labels {
		if cur.Labels[k] != v {
			if cur.Labels == nil {
				cur.Labels = map[string]string{}
			}
			cur.Labels[k], ch = v, true
		}
	}
	for k, v := range want.Annotations {
		if cur.Annotations[k] != v {
			if cur.Annotations == nil {
				cur.Annotations = map[string]string{}
			}
			cur.Annotations[k], ch = v, true
		}
	}
	return ch
}

func samePorts(a, b []corev1.ServicePort) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Port != b[i].Port || a[i].TargetPort != b[i].TargetPort {
			return false
		}
	}
	return true
}

// stripDefaults keeps what the chart sets of an RC spec's containers, so that a spec read
// back (with the API server's defaults) compares equal to the rendered one.
func stripDefaults(s *corev1.ReplicationControllerSpec) any {
	type ctr struct {
		Name, Image string
		Command     []string
		Env         []corev1.EnvVar
		Ports       []int32
		Mounts      []corev1.VolumeMount
		Liveness    int32
	}
	var out struct {
		Replicas int32
		Selector map[string]string
		Labels   map[string]string
		Ctrs     []ctr
		Volumes  []string
	}
	if s.Replicas != nil {
		out.Replicas = *s.Replicas
	}
	out.Selector = s.Selector
	if s.Template == nil {
		return out
	}
	out.Labels = s.Template.Labels
	for _, c := range append(append([]corev1.Container(nil), s.Template.Spec.InitContainers...), s.Template.Spec.Containers...) {
		x := ctr{Name: c.Name, Image: c.Image, Command: c.Command, Env: c.Env, Mounts: c.VolumeMounts}
		for _, p := range c.Ports {
			x.Ports = append(x.Ports, p.ContainerPort)
		}
		if c.LivenessProbe != nil {
			x.Liveness = c.LivenessProbe.InitialDelaySeconds
		}
		for i := range x.Env {
			if r := x.Env[i].ValueFrom; r != nil && r.SecretKeyRef != nil {
				r.SecretKeyRef.Optional = nil
			}
		}
		out.Ctrs = append(out.Ctrs, x)
	}
	for _, v := range s.Template.Spec.Volumes {
		out.Volumes = append(out.Volumes, v.Name)
	}
	return out
}
