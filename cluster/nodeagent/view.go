package nodeagent

import (
	"sort"

	"github.com/drover-ci/drover/cluster/container"
)

// podView groups a pod's containers as the runtime reports them: the newest infra container
// and, per app container name, its attempts newest first.
type podView struct {
	infra  *container.Container
	all    []container.Container
	byName map[string][]container.Container
}

func newPodView(cs []container.Container) *podView {
	v := &podView{all: cs, byName: map[string][]container.Container{}}
	for _, c := range cs {
		name := c.Labels[LabelContainer]
		if name == infraName {
			if v.infra == nil || newer(c, *v.infra) {
				c := c
				v.infra = &c
			}
			continue
		}
		v.byName[name] = append(v.byName[name], c)
	}
	for _, list := range v.byName {
		sort.Slice(list, func(i, j int) bool { return newer(list[i], list[j]) })
	}
	return v
}

// withHostIP gives a hostNetwork pod's infra container the node's address, hostIP (the
// runtime reports none for the host's network): the pod's IP is the node's, as the kubelet
// reports it.
func (v *podView) withHostIP(hostIP string) *podView {
	if v.infra != nil && v.infra.Labels[LabelHostNetwork] == "true" && v.infra.IP == "" {
		v.infra.IP = hostIP
	}
	return v
}

// newer orders attempts: higher restart count first, then later creation.
func newer(a, b container.Container) bool {
	if x, y := attemptOf(a), attemptOf(b); x != y {
		return x > y
	}
	return a.CreatedAt.After(b.CreatedAt)
}

// current returns the newest attempt of name, or nil.
func (v *podView) current(name string) *container.Container {
	if l := v.byName[name]; len(l) > 0 {
		return &l[0]
	}
	return nil
}

// previous returns the attempt before the newest, or nil.
func (v *podView) previous(name string) *container.Container {
	if l := v.byName[name]; len(l) > 1 {
		return &l[1]
	}
	return nil
}

func running(c *container.Container) bool { return c != nil && c.State == container.StateRunning }
