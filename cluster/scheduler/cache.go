package scheduler

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// schedCache is the controller's Snapshot behind a lock, plus the pods it assumed: placed and being
// (or just) bound, not yet seen bound by the informer. Assumed pods count on their node so
// that a burst of pods does not overcommit it.
type schedCache struct {
	mu      sync.Mutex
	snap    *Snapshot
	assumed map[string]*assumption // by podKey
}

type assumption struct {
	namespace, name string
	node            string
	boundAt         time.Time // zero while the binding is in flight
}

func newSchedCache() *schedCache {
	return &schedCache{snap: NewSnapshot(), assumed: map[string]*assumption{}}
}

// scheduleAndAssume places the pod and counts it on the chosen node. skipped is true when the
// pod is assumed already (its binding is in flight or not yet observed).
func (c *schedCache) scheduleAndAssume(pod *corev1.Pod) (node string, err error, skipped bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := podKey(pod)
	if _, ok := c.assumed[key]; ok {
		return "", nil, true
	}
	if _, ok := c.snap.HasPod(pod); ok {
		return "", nil, true // observed bound already; the lister lags behind the handler
	}
	node, err = Schedule(pod, c.snap)
	if err != nil {
		return "", err, false
	}
	bound := *pod // shallow copy: only spec.nodeName differs
	bound.Spec.NodeName = node
	c.snap.AddPod(&bound)
	c.assumed[key] = &assumption{namespace: pod.Namespace, name: pod.Name, node: node}
	return node, nil, false
}

// finishBinding records that the pod's binding succeeded.
func (c *schedCache) finishBinding(pod *corev1.Pod, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.assumed[podKey(pod)]; a != nil {
		a.boundAt = now
	}
}

// forget drops an assumed pod whose binding failed.
func (c *schedCache) forget(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := podKey(pod)
	if _, ok := c.assumed[key]; ok {
		delete(c.assumed, key)
		c.snap.RemovePod(pod)
	}
}

// addPod counts a pod the informer shows bound (confirming it if it was assumed).
func (c *schedCache) addPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.assumed, podKey(pod))
	c.snap.AddPod(pod)
}

// removePod stops counting a pod; it reports whether it was counted.
func (c *schedCache) removePod(pod *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.assumed, podKey(pod))
	_, counted := c.snap.HasPod(pod)
	c.snap.RemovePod(pod)
	return counted
}

// expire forgets the pods assumed bound before cutoff that gone says no longer exist as
// assumed (deleted, or replaced by a pod of the same name), in case the informer never shows them.
func (c *schedCache) expire(cutoff time.Time, gone func(namespace, name, uid string) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for key, a := range c.assumed {
		if !a.boundAt.IsZero() && a.boundAt.Before(cutoff) && gone(a.namespace, a.name, key) {
			delete(c.assumed, key)
			c.snap.removeKey(key)
			n++
		}
	}
	return n
}

// with runs f on the snapshot under the lock.
func (c *schedCache) with(f func(*Snapshot)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c.snap)
}
