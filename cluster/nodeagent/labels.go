package nodeagent

import (
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
	LabelManaged   = "drover.io/managed"
	LabelNode      = "drover.io/node"
	LabelPodUID    = "drover.io/pod-uid"
	LabelPodNS     = "drover.io/pod-namespace"
	LabelPodName   = "drover.io/pod-name"
	LabelContainer = "drover.io/container-name"
	LabelAttempt   = "drover.io/restart-count"
	// LabelHash is a hash of the container spec; a changed spec (e.g. a new image) restarts it.
	LabelHash = "drover.io/container-hash"

	// infraName is the container name of the pod's infra ("pause") container.
	infraName = "POD"
)

// containerLabels are the labels of attempt n of container name in pod.
func containerLabels(node string, pod *corev1.Pod, name string, attempt int, hash string) map[string]string {
	return map[string]string{
		LabelManaged:   "true",
		LabelNode:      node,
		LabelPodUID:    string(pod.UID),
		LabelPodNS:     pod.Namespace,
		LabelPodName:   pod.Name,
		LabelContainer: name,
		LabelAttempt:   strconv.Itoa(attempt),
		LabelHash:      hash,
	}
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
