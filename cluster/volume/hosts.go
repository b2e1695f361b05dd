package volume

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/types"
)

// HostsFile keeps the pod's managed /etc/hosts (Root/<uid>/etc-hosts, as the kubelet's) with
// content and returns its host path. A changed content is written in place, so containers
// that bind-mount it see it.
func (m *Manager) HostsFile(uid types.UID, content []byte) (string, error) {
	if err := checkName(string(uid)); err != nil {
		return "", fmt.Errorf("pod uid: %w", err)
	}
	path := m.hostsPath(uid)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|syscallNoFollow, 0o644)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

func (m *Manager) hostsPath(uid types.UID) string {
	return filepath.Join(m.Root, string(uid), "etc-hosts")
}

func (m *Manager) removeHostsFile(uid types.UID) error {
	if err := os.Remove(m.hostsPath(uid)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
