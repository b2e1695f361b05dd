// Package volume prepares a pod's volumes on the node before its containers are created and
// removes them when the pod is gone, with Kubernetes' semantics: emptyDir (Memory → tmpfs),
// hostPath with type checks, secret / configMap / downwardAPI / projected as files written
// atomically (a "..data" symlink swapped to a new timestamped directory, as kubelet's
// AtomicWriter does; secrets and projected volumes on a tmpfs so they never reach the disk),
// and persistentVolumeClaim through its bound PersistentVolume (hostPath and local sources).
//
// Layout: Root/<pod uid>/volumes/<kind>/<volume name>. hostPath and PersistentVolume data
// live where their sources say and are never touched by Teardown.
package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Kind directories under a pod's volumes directory.
const (
	kindEmptyDir    = "empty-dir"
	kindSecret      = "secret"
	kindConfigMap   = "configmap"
	kindDownwardAPI = "downward-api"
	kindProjected   = "projected"
)

// Manager prepares pod volumes under Root (Root/<uid>/volumes/<kind>/<name>).
// Calls for one pod must not overlap; calls for different pods may.
type Manager struct {
	Root     string
	client   kubernetes.Interface
	nodeName string
	// Now is the clock of token refreshes (time.Now when nil).
	Now    func() time.Time
	tokens tokens
	// owned are the emptyDir and claim volumes ("uid/name") already given the pod's fsGroup:
	// like the kubelet, which does it when it mounts them, not on every sync.
	ownedMu sync.Mutex
	owned   map[string]bool
}

func (m *Manager) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

// Source is what a pod volume mounts from on the host.
type Source struct {
	HostPath string
	ReadOnly bool
}

// NewManager returns a Manager keeping pod volumes under root, reading Secrets, ConfigMaps,
// PersistentVolumeClaims, PersistentVolumes and its own Node through client.
func NewManager(root string, client kubernetes.Interface, nodeName string) *Manager {
	return &Manager{Root: root, client: client, nodeName: nodeName}
}

// SetupError is the failure of one volume of a pod: Setup joins one per failing volume
// (errors.Join), so the node agent can report each as the kubelet does.
type SetupError struct {
	Volume string // the pod's volume name
	Err    error
}

func (e *SetupError) Error() string { return fmt.Sprintf("volume %q: %v", e.Volume, e.Err) }
func (e *SetupError) Unwrap() error { return e.Err }

// CSIDriverNotRegistered is the kubelet's error setting up a csi volume whose driver has not
// registered with it. drover runs no CSI drivers, so no node has any: every csi volume fails
// this way (the pod stays ContainerCreating), as on a kubelet without the driver.
func CSIDriverNotRegistered(driver string) error {
	return fmt.Errorf("kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: driver name %s not found in the list of registered CSI drivers", driver)
}

// Setup prepares every volume of pod and returns, per volume name, what to mount. It is
// idempotent and meant to be called on every sync: Secret, ConfigMap and downward API
// contents are refreshed when they changed. Every volume is attempted; on failure the
// errors of all failing volumes (*SetupError each) are returned together (and no map).
func (m *Manager) Setup(ctx context.Context, pod *corev1.Pod) (map[string]Source, error) {
	if err := checkName(string(pod.UID)); err != nil {
		return nil, fmt.Errorf("pod uid: %w", err)
	}
	sources := make(map[string]Source, len(pod.Spec.Volumes))
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		src, err := m.setupVolume(ctx, pod, v)
		if err == nil {
			err = m.applyFSGroup(pod, v, src)
		}
		if err != nil {
			errs = append(errs, &SetupError{Volume: v.Name, Err: err})
			continue
		}
		sources[v.Name] = src
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sources, nil
}

// applyFSGroup gives the pod's fsGroup the volumes the kubelet manages ownership of
// (emptyDir, Secret, ConfigMap, downward API, projected, and claims of drover's hostPath
// PersistentVolumes); a pod's own hostPath volume is left as it is. Secret, ConfigMap,
// downward API and projected volumes are read-only to the kubelet, so they gain group read only.
// emptyDir and claim volumes get it once per pod; the others (small, rewritten when their
// source changes) on every sync.
func (m *Manager) applyFSGroup(pod *corev1.Pod, v *corev1.Volume, src Source) error {
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.FSGroup == nil {
		return nil
	}
	s := v.VolumeSource
	readOnly := src.ReadOnly
	switch {
	case s.EmptyDir != nil, s.PersistentVolumeClaim != nil:
		key := string(pod.UID) + "/" + v.Name
		m.ownedMu.Lock()
		done := m.owned[key]
		m.ownedMu.Unlock()
		if done {
			return nil
		}
		if err := setOwnership(src.HostPath, *psc.FSGroup, psc.FSGroupChangePolicy, readOnly); err != nil {
			return err
		}
		m.ownedMu.Lock()
		if m.owned == nil {
			m.owned = map[string]bool{}
		}
		m.owned[key] = true
		m.ownedMu.Unlock()
		return nil
	case s.Secret != nil, s.ConfigMap != nil, s.DownwardAPI != nil, s.Projected != nil:
		readOnly = true
	default:
		return nil
	}
	return setOwnership(src.HostPath, *psc.FSGroup, psc.FSGroupChangePolicy, readOnly)
}

func (m *Manager) setupVolume(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) (Source, error) {
	if err := checkName(v.Name); err != nil {
		return Source{}, err
	}
	switch s := v.VolumeSource; {
	case s.EmptyDir != nil:
		dir, err := setupEmptyDir(m.volumeDir(pod.UID, kindEmptyDir, v.Name), s.EmptyDir)
		return Source{HostPath: dir}, err
	case s.HostPath != nil:
		var t corev1.HostPathType
		if s.HostPath.Type != nil {
			t = *s.HostPath.Type
		}
		return Source{HostPath: s.HostPath.Path}, checkHostPath(s.HostPath.Path, t)
	case s.Secret != nil:
		return m.setupFiles(pod, kindSecret, v.Name, true, func() (map[string]file, error) {
			return m.secretPayload(ctx, pod.Namespace, s.Secret)
		})
	case s.ConfigMap != nil:
		return m.setupFiles(pod, kindConfigMap, v.Name, false, func() (map[string]file, error) {
			return m.configMapPayload(ctx, pod.Namespace, s.ConfigMap)
		})
	case s.DownwardAPI != nil:
		return m.setupFiles(pod, kindDownwardAPI, v.Name, false, func() (map[string]file, error) {
			return m.downwardPayload(ctx, pod, s.DownwardAPI.Items, s.DownwardAPI.DefaultMode)
		})
	case s.Projected != nil:
		return m.setupFiles(pod, kindProjected, v.Name, true, func() (map[string]file, error) {
			return m.projectedPayload(ctx, pod, s.Projected)
		})
	case s.PersistentVolumeClaim != nil:
		return m.setupClaim(ctx, pod.Namespace, s.PersistentVolumeClaim)
	case s.NFS != nil:
		return Source{}, errNFS
	case s.CSI != nil:
		return Source{}, CSIDriverNotRegistered(s.CSI.Driver)
	}
	return Source{}, errors.New("volume type is not supported on this node")
}

// setupFiles fetches a payload and writes it atomically into the volume's directory, on a
// tmpfs when inMemory. Source.ReadOnly is false: the volume mount decides (kubelet mounts
// these read-only only when the volumeMount says so).
func (m *Manager) setupFiles(pod *corev1.Pod, kind, name string, inMemory bool, payload func() (map[string]file, error)) (Source, error) {
	files, err := payload()
	if err != nil {
		return Source{}, err
	}
	dir := m.volumeDir(pod.UID, kind, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Source{}, err
	}
	if inMemory {
		if err := ensureTmpfs(dir, 0o755, payloadTmpfsSize(files)); err != nil {
			return Source{}, err
		}
	}
	if _, err := writeAtomic(dir, files); err != nil {
		return Source{}, err
	}
	return Source{HostPath: dir}, nil
}

// PodUIDs lists the pod uids that have a volumes, volume-subpaths or containers directory
// under Root.
func (m *Manager) PodUIDs() ([]types.UID, error) {
	entries, err := os.ReadDir(m.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var uids []types.UID
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		for _, sub := range []string{"volumes", "volume-subpaths", "containers"} {
			if fi, err := os.Lstat(filepath.Join(m.Root, e.Name(), sub)); err == nil && fi.IsDir() {
				uids = append(uids, types.UID(e.Name()))
				break
			}
		}
	}
	return uids, nil
}

// Teardown removes what Setup, Mounts, TerminationLog and HostsFile made for the pod: it unmounts the
// subPath bind mounts and the tmpfs mounts under the pod's volume-subpaths and volumes
// directories (deepest first), then removes those and its containers directory without following symlinks or crossing into anything
// still mounted, then the pod directory if it is left empty.
// hostPath and PersistentVolume data are never under it. A missing directory is no error.
func (m *Manager) Teardown(ctx context.Context, podUID types.UID) error {
	if err := checkName(string(podUID)); err != nil {
		return fmt.Errorf("pod uid: %w", err)
	}
	m.forgetTokens(podUID)
	m.ownedMu.Lock()
	for k := range m.owned {
		if strings.HasPrefix(k, string(podUID)+"/") {
			delete(m.owned, k)
		}
	}
	m.ownedMu.Unlock()
	// The subPath bind mounts first (they are of the volumes' contents), then the volumes.
	for _, dir := range []string{m.subPathsDir(podUID), filepath.Join(m.Root, string(podUID), "volumes"), m.containersDir(podUID)} {
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := unmountUnder(ctx, dir); err != nil {
			return fmt.Errorf("teardown pod %s: %w", podUID, err)
		}
		if err := removeAllOneDevice(dir); err != nil {
			return fmt.Errorf("teardown pod %s: %w", podUID, err)
		}
	}
	if err := m.removeHostsFile(podUID); err != nil {
		return fmt.Errorf("teardown pod %s: %w", podUID, err)
	}
	err := os.Remove(filepath.Join(m.Root, string(podUID)))
	if err != nil && !errors.Is(err, os.ErrNotExist) && !isNotEmpty(err) {
		return fmt.Errorf("teardown pod %s: %w", podUID, err)
	}
	return nil
}

func (m *Manager) volumeDir(uid types.UID, kind, name string) string {
	return filepath.Join(m.Root, string(uid), "volumes", kind, name)
}

// checkName refuses names that are not a single path component.
func checkName(s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00") {
		return fmt.Errorf("invalid name %q", s)
	}
	return nil
}
