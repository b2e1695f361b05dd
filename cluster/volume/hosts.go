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
	return m.podFile(uid, m.hostsPath(uid), content)
}

// ResolvFile keeps the pod's /etc/resolv.conf (Root/<uid>/resolv.conf) as HostsFile keeps
// its hosts file.
func (m *Manager) ResolvFile(uid types.UID, content []byte) (string, error) {
	return m.podFile(uid, m.resolvPath(uid), content)
}

func (m *Manager) podFile(uid types.UID, path string, content []byte) (string, error) {
	if err := checkName(string(uid)); err != nil {
		return "", fmt.Errorf("pod uid: %w", err)
	}
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

func (m *Manager) resolvPath(uid types.UID) string {
	return filepath.Join(m.Root, string(uid), "resolv.conf")
}

func (m *Manager) removeHostsFile(uid types.UID) error {
	for _, p := range []string{m.hostsPath(uid), m.resolvPath(uid)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
