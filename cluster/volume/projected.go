package volume

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

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
		return downwardPayload(pod, s.DownwardAPI.Items, mode)
	case s.ServiceAccountToken != nil:
		return m.serviceAccountToken(ctx, pod, s.ServiceAccountToken, mode)
	case s.ClusterTrustBundle != nil:
		return nil, errors.New("clusterTrustBundle projections are not supported on this node")
	}
	return nil, errors.New("projection type is not supported on this node")
}

// downwardPayload returns the files of downward API items: the fieldRefs a volume may use
// (downward.Volume). resourceFieldRef is not supported.
func downwardPayload(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode *int32) (map[string]file, error) {
	files := make(map[string]file, len(items))
	for _, it := range items {
		if it.FieldRef == nil {
			return nil, fmt.Errorf("downwardAPI %s: only fieldRef is supported on this node", it.Path)
		}
		v, ok := downward.PodField(pod, it.FieldRef.FieldPath, downward.Volume)
		if !ok {
			return nil, fmt.Errorf("downwardAPI %s: unsupported fieldPath %q", it.Path, it.FieldRef.FieldPath)
		}
		mode := fileMode(defaultMode)
		if it.Mode != nil {
			mode = fileMode(it.Mode)
		}
		files[it.Path] = file{data: []byte(v), mode: mode}
	}
	return files, nil
}
