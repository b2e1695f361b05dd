package volume

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultFileMode is Kubernetes' default mode of secret, configMap, downward API and
// projected files (0644; the registry normally defaults defaultMode already).
const defaultFileMode = corev1.SecretVolumeSourceDefaultMode

// secretPayload reads a Secret and returns the files of a secret volume.
func (m *Manager) secretPayload(ctx context.Context, ns string, src *corev1.SecretVolumeSource) (map[string]file, error) {
	optional := src.Optional != nil && *src.Optional
	data, found, err := m.secretData(ctx, ns, src.SecretName, optional)
	if err != nil || !found {
		return map[string]file{}, err
	}
	return project(data, src.Items, src.DefaultMode, optional, func(key string) error {
		return fmt.Errorf("couldn't find key %s in Secret %s/%s", key, ns, src.SecretName)
	})
}

// secretData returns a Secret's data (stringData merged in, should a client have sent it);
// a missing optional Secret is not found and no error.
func (m *Manager) secretData(ctx context.Context, ns, name string, optional bool) (map[string][]byte, bool, error) {
	s, err := m.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("couldn't get secret %s/%s: %w", ns, name, err)
	}
	data := make(map[string][]byte, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return data, true, nil
}

// configMapPayload reads a ConfigMap and returns the files of a configMap volume.
func (m *Manager) configMapPayload(ctx context.Context, ns string, src *corev1.ConfigMapVolumeSource) (map[string]file, error) {
	optional := src.Optional != nil && *src.Optional
	data, found, err := m.configMapData(ctx, ns, src.Name, optional)
	if err != nil || !found {
		return map[string]file{}, err
	}
	return project(data, src.Items, src.DefaultMode, optional, func(key string) error {
		return fmt.Errorf("configmap references non-existent config key: %s", key)
	})
}

// configMapData returns a ConfigMap's data and binaryData; a missing optional ConfigMap is
// not found and no error.
func (m *Manager) configMapData(ctx context.Context, ns, name string, optional bool) (map[string][]byte, bool, error) {
	cm, err := m.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("couldn't get configMap %s/%s: %w", ns, name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return data, true, nil
}

// project maps data to files: every key under its own name with defaultMode when items is
// empty, else the listed keys under their paths (item mode overriding defaultMode); a listed
// key that is missing is an error unless optional (then it is left out).
func project(data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, optional bool, missing func(key string) error) (map[string]file, error) {
	def := fileMode(defaultMode)
	files := make(map[string]file, len(data))
	if len(items) == 0 {
		for k, v := range data {
			files[k] = file{data: v, mode: def}
		}
		return files, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, missing(it.Key)
		}
		mode := def
		if it.Mode != nil {
			mode = fileMode(it.Mode)
		}
		files[it.Path] = file{data: v, mode: mode}
	}
	return files, nil
}

// fileMode turns an API mode (nil: 0644) into permission bits.
func fileMode(m *int32) os.FileMode {
	if m == nil {
		return os.FileMode(defaultFileMode)
	}
	return os.FileMode(*m) & os.ModePerm
}

// payloadTmpfsSize bounds a tmpfs holding files: room for two copies (an update writes the
// new set before the old one goes) plus slack, at least 4 MiB.
func payloadTmpfsSize(files map[string]file) int64 {
	var total int64
	for _, f := range files {
		total += int64(len(f.data)) + 4096
	}
	return max(2*total+1<<20, 4<<20)
}
