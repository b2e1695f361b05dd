package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/apimachinery/pkg/types"
)

// MaxTerminationMessage is the most of a termination message file that is read (the
// kubelet's MaxContainerTerminationMessageLength).
const MaxTerminationMessage = 4096

// TerminationLog makes the empty file (mode 0666, whatever user the container runs as may
// write it) that attempt n of container name of pod uid gets at its terminationMessagePath,
// Root/<uid>/containers/<name>/<n> as the kubelet's pod container directory, and returns
// its host path. Teardown removes it with the pod.
func (m *Manager) TerminationLog(uid types.UID, name string, n int) (string, error) {
	path, err := m.terminationLogPath(uid, name, n)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|syscallNoFollow, 0o666)
	if err != nil {
		return "", err
	}
	if err := f.Chmod(0o666); err != nil { // not narrowed by the umask
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// TerminationMessage reads at most MaxTerminationMessage bytes of what attempt n of container
// name wrote to its termination log ("" when it wrote nothing or has no such file).
func (m *Manager) TerminationMessage(uid types.UID, name string, n int) (string, error) {
	path, err := m.terminationLogPath(uid, name, n)
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscallNoFollow, 0)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxTerminationMessage))
	return string(b), err
}

func (m *Manager) terminationLogPath(uid types.UID, name string, n int) (string, error) {
	if err := checkName(string(uid)); err != nil {
		return "", fmt.Errorf("pod uid: %w", err)
	}
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("container name: %w", err)
	}
	return filepath.Join(m.containersDir(uid), name, strconv.Itoa(n)), nil
}

func (m *Manager) containersDir(uid types.UID) string {
	return filepath.Join(m.Root, string(uid), "containers")
}
