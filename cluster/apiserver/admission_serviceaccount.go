package apiserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// What Kubernetes' ServiceAccount admission plugin names and mounts.
const (
	defaultServiceAccount = "default"
	// tokenVolumePrefix starts the name of the projected token volume (kube-api-access-xxxxx).
	tokenVolumePrefix = "kube-api-access"
	// TokenMountPath is where every container finds token, ca.crt and namespace.
	TokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// TokenVolumeExpirationSeconds is the projected token's lifetime
	// (WarnOnlyBoundTokenExpirationSeconds: an hour and 7 s).
	TokenVolumeExpirationSeconds = 3607
	// The attempts at reading the default ServiceAccount, which its controller may not
	// have made yet in a new namespace, as the plugin's getServiceAccount retries.
	defaultAccountAttempts = 10
	defaultAccountRetry    = 150 * time.Millisecond
	mirrorPodAnnotation    = "kubernetes.io/config.mirror"
)

// admitServiceAccount is Kubernetes' ServiceAccount admission for a new pod: the ServiceAccount
// (default "default") must exist, and unless the pod or the ServiceAccount turns
// automountServiceAccountToken off every container and init container mounts the projected
// kube-api-access-xxxxx volume read-only at TokenMountPath.
func (s *Server) admitServiceAccount(ctx context.Context, pod *corev1.Pod) error {
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = defaultServiceAccount
	}
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	sa, err := s.serviceAccount(ctx, pod.Namespace, pod.Spec.ServiceAccountName)
	if err != nil {
		return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name,
			fmt.Errorf("error looking up service account %s/%s: %w", pod.Namespace, pod.Spec.ServiceAccountName, err))
	}
	if automount(sa, pod) {
		mountToken(pod)
	}
	if len(pod.Spec.ImagePullSecrets) == 0 && len(sa.ImagePullSecrets) > 0 {
		pod.Spec.ImagePullSecrets = append([]corev1.LocalObjectReference(nil), sa.ImagePullSecrets...)
	}
	return nil
}

// serviceAccount reads ServiceAccount ns/name, retrying a missing "default" for a while.
func (s *Server) serviceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	attempts := 1
	if name == defaultServiceAccount {
		attempts = defaultAccountAttempts
	}
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if err := sleepCtx(ctx, defaultAccountRetry); err != nil {
				return nil, err
			}
		}
		obj, _, err := s.getObject(ctx, s.lookup(serviceAccountsGVR), ns, name)
		if err == nil {
			return obj.(*corev1.ServiceAccount), nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccount"}, name)
}

// automount: the pod's choice, else the ServiceAccount's, else true.
func automount(sa *corev1.ServiceAccount, pod *corev1.Pod) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// mountToken adds the token volume (unless the pod has one) and its mount to every container
// that mounts nothing at TokenMountPath (the plugin's mountServiceAccountToken).
func mountToken(pod *corev1.Pod) {
	name := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, tokenVolumePrefix+"-") {
			name = v.Name
			break
		}
	}
	has := name != ""
	if !has {
		name = generateName(tokenVolumePrefix + "-")
	}
	mount := corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: TokenMountPath}
	needed := false
	add := func(cs []corev1.Container) {
		for i := range cs {
			if !mountsAt(cs[i], TokenMountPath) {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
				needed = true
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	if !has && needed {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name,
			VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()}})
	}
}

func mountsAt(c corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

// TokenVolumeSource is the projected source of the kube-api-access volume, as Kubernetes
// writes it (defaultMode 0644 set explicitly).
func TokenVolumeSource() *corev1.ProjectedVolumeSource {
	return &corev1.ProjectedVolumeSource{
		DefaultMode: ptrTo(corev1.ProjectedVolumeSourceDefaultMode),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptrTo(int64(TokenVolumeExpirationSeconds))}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}
}
