package nodeagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-ci/drover/cluster/container"
)

// Labels on every container drover creates. They let a restarted node agent adopt what runs
// (no duplicates, restart counts kept) and remove what no pod owns.
const (
	LabelManaged = "drover.io/managed"
	LabelNode    = "drover.io/node"
	// LabelCluster is the ClusterID of the drover whose node agent made the container: two
	// drovers on one Docker engine (even with the same node name) leave each other's alone.
	LabelCluster   = "drover.io/cluster"
	LabelPodUID    = "drover.io/pod-uid"
	LabelPodNS     = "drover.io/pod-namespace"
	LabelPodName   = "drover.io/pod-name"
	LabelContainer = "drover.io/container-name"
	LabelAttempt   = "drover.io/restart-count"
	// LabelHash is a hash of the container spec; a changed spec (e.g. a new image) restarts it.
	LabelHash = "drover.io/container-hash"
	// LabelHostNetwork marks the infra container of a hostNetwork pod: the pod's IP is the
	// node's (the runtime reports none for the host's network).
	LabelHostNetwork = "drover.io/host-network"

	// infraName is the container name of the pod's infra ("pause") container.
	infraName = "POD"
)

// containerLabels are the labels of attempt n of container name in pod.
func (a *Agent) containerLabels(pod *corev1.Pod, name string, attempt int, hash string) map[string]string {
	l := map[string]string{
		LabelManaged:   "true",
		LabelNode:      a.cfg.NodeName,
		LabelPodUID:    string(pod.UID),
		LabelPodNS:     pod.Namespace,
		LabelPodName:   pod.Name,
		LabelContainer: name,
		LabelAttempt:   strconv.Itoa(attempt),
		LabelHash:      hash,
	}
	if a.cfg.ClusterID != "" {
		l[LabelCluster] = a.cfg.ClusterID
	}
	return l
}

// listContainers lists this node's containers matching match (the node label is added): those
// of another drover on the same engine (another LabelCluster) are left out. Containers without
// the label (made before it existed) are this agent's if their node label says so.
func (a *Agent) listContainers(ctx context.Context, match map[string]string) ([]container.Container, error) {
	m := make(map[string]string, len(match)+1)
	for k, v := range match {
		m[k] = v
	}
	m[LabelNode] = a.cfg.NodeName
	cs, err := a.cfg.Runtime.List(ctx, m)
	if err != nil || a.cfg.ClusterID == "" {
		return cs, err
	}
	own := cs[:0]
	for _, c := range cs {
		if id := c.Labels[LabelCluster]; id == "" || id == a.cfg.ClusterID {
			own = append(own, c)
		}
	}
	return own, nil
}

// ClusterID names a drover cluster for LabelCluster: the first 16 hex digits of the SHA-256 of
// its CA certificate (the first PEM block of caPEM), which every server and node of the cluster
// has, so no new state is needed to agree on it.
func ClusterID(caPEM []byte) (string, error) {
	b, _ := pem.Decode(caPEM)
	if b == nil {
		return "", errors.New("cluster id: no PEM block in the CA certificate")
	}
	sum := sha256.Sum256(b.Bytes)
	return hex.EncodeToString(sum[:8]), nil
}

// dockerName is a unique, readable engine name for attempt n of a container.
func dockerName(pod *corev1.Pod, name string, attempt int) string {
	uid := string(pod.UID)
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return fmt.Sprintf("drover_%s_%s_%s_%s_%d", sanitize(name), pod.Name, pod.Namespace, uid, attempt)
}

func sanitize(s string) string { return strings.ReplaceAll(s, "/", "-") }

// attemptOf reads the restart attempt label (0 when absent).
func attemptOf(c container.Container) int {
	n, _ := strconv.Atoi(c.Labels[LabelAttempt])
	return n
}

func podUIDOf(c container.Container) types.UID { return types.UID(c.Labels[LabelPodUID]) }
