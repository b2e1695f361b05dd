package volume

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/downward"
)

// projectedPayload gathers the files of a projected volume's secret, configMap and
// downwardAPI sources (a later source wins a path both name).
func (m *Manager) projectedPayload(ctx context.Context, pod *corev1.Pod, src *corev1.ProjectedVolumeSource) (map[string]file, error) {
	files := map[string]file{}
	for i, s := range src.Sources {
		part, err := m.projection(ctx, pod, &s, src.DefaultMode)
		if err != nil {
			return nil, fmt.Errorf("sources[%d]: %w", i, err)
		}
		for p, f := range part {
			files[p] = f
		}
	}
	return files, nil
}

func (m *Manager) projection(ctx context.Context, pod *corev1.Pod, s *corev1.VolumeProjection, mode *int32) (map[string]file, error) {
	ns := pod.Namespace
	switch {
	case s.Secret != nil:
		optional := s.Secret.Optional != nil && *s.Secret.Optional
		data, found, err := m.secretData(ctx, ns, s.Secret.Name, optional)
		if err != nil || !found {
			return nil, err
		}
		return project(data, s.Secret.Items, mode, optional, func(key string) error {
			return fmt.Errorf("couldn't find key %s in Secret %s/%s", key, ns, s.Secret.Name)
		})
	case s.ConfigMap != nil:
		optional := s.ConfigMap.Optional != nil && *s.ConfigMap.Optional
		data, found, err := m.configMapData(ctx, ns, s.ConfigMap.Name, optional)
		if err != nil || !found {
			return nil, err
		}
		return project(data, s.ConfigMap.Items, mode, optional, func(key string) error {
			return fmt.Errorf("configmap references non-existent config key: %s", key)
		})
	case s.DownwardAPI != nil:
		return m.downwardPayload(ctx, pod, s.DownwardAPI.Items, mode)
	case s.ServiceAccountToken != nil:
		return m.serviceAccountToken(ctx, pod, s.ServiceAccountToken, mode)
	case s.ClusterTrustBundle != nil:
		return nil, errors.New("clusterTrustBundle projections are not supported on this node")
	}
	return nil, errors.New("projection type is not supported on this node")
}

// downwardPayload returns the files of downward API items: the fieldRefs a volume may use
// and resourceFieldRefs (of the container the item names; limits it does not set are the
// node's allocatable, read from this node's Node).
func (m *Manager) downwardPayload(ctx context.Context, pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode *int32) (map[string]file, error) {
	files := make(map[string]file, len(items))
	var allocatable corev1.ResourceList
	for _, it := range items {
		var v string
		switch {
		case it.FieldRef != nil:
			var ok bool
			if v, ok = downward.PodField(pod, it.FieldRef.FieldPath, downward.Volume); !ok {
				return nil, fmt.Errorf("downwardAPI %s: unsupported fieldPath %q", it.Path, it.FieldRef.FieldPath)
			}
		case it.ResourceFieldRef != nil:
			if allocatable == nil {
				node, err := m.client.CoreV1().Nodes().Get(ctx, m.nodeName, metav1.GetOptions{})
				if err != nil {
					return nil, fmt.Errorf("downwardAPI %s: node allocatable: %w", it.Path, err)
				}
				allocatable = node.Status.Allocatable
			}
			var err error
			if v, err = downward.ResourceValue(it.ResourceFieldRef, pod, nil, allocatable); err != nil {
				return nil, fmt.Errorf("downwardAPI %s: %w", it.Path, err)
			}
		default:
			return nil, fmt.Errorf("downwardAPI %s: neither fieldRef nor resourceFieldRef", it.Path)
		}
		mode := fileMode(defaultMode)
		if it.Mode != nil {
			mode = fileMode(it.Mode)
		}
		files[it.Path] = file{data: []byte(v), mode: mode}
	}
	return files, nil
}
