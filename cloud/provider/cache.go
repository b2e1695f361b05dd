package provider

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
)

// claimRef names one cache claim to create (and its volume).
type claimRef struct {
	template, cache string
	index           int
}

// leaser leases cache claims to the agents of one decision. A claim is
// held while any agent pod mounts it (the pod spec is the lease: it lives
// in the API and survives a restart of drover; a crashed agent's claim is
// free again once its pod is gone). Free claims are leased lowest index
// first; a template with none free gets a new one, up to its instanceCap.
type leaser struct {
	held   map[string]bool
	exists map[string]bool
	// created are the claims leased that do not exist yet.
	created []claimRef
}

func newLeaser(w *world) *leaser {
	l := &leaser{held: map[string]bool{}, exists: map[string]bool{}}
	for _, a := range w.agents {
		for _, v := range a.pod.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				l.held[v.PersistentVolumeClaim.ClaimName] = true
			}
		}
	}
	for name, c := range w.claims {
		if c.DeletionTimestamp == nil {
			l.exists[name] = true
		}
	}
	return l
}

// lease returns one claim per cache of t for a new agent, or why there is
// none. Claims it invents are to be created (leaser.created).
func (l *leaser) lease(t config.Template) (map[string]string, string) {
	if len(t.Caches) == 0 {
		return nil, ""
	}
	out := map[string]string{}
	var picked []string
	for _, c := range t.Caches {
		name, wait := l.one(t, c)
		if wait != "" {
			for _, n := range picked {
				delete(l.held, n) // give back what this lease took
			}
			return nil, wait
		}
		picked = append(picked, name)
		out[c.Name] = name
	}
	return out, ""
}

func (l *leaser) one(t config.Template, c config.Cache) (string, string) {
	var have []int
	for name := range l.exists {
		if n := render.CacheIndex(t.Name, c.Name, name); n >= 0 {
			have = append(have, n)
		}
	}
	sort.Ints(have)
	for _, n := range have {
		if name := render.CacheClaimName(t.Name, c.Name, n); !l.held[name] {
			l.held[name] = true
			return name, ""
		}
	}
	if t.InstanceCap > 0 && len(have) >= t.InstanceCap {
		return "", fmt.Sprintf("all %d claims of cache %s are held (instanceCap %d)", len(have), c.Name, t.InstanceCap)
	}
	n := 0
	for _, h := range have {
		if h == n {
			n++
		}
	}
	name := render.CacheClaimName(t.Name, c.Name, n)
	l.exists[name], l.held[name] = true, true
	l.created = append(l.created, claimRef{template: t.Name, cache: c.Name, index: n})
	return name, ""
}

// ensureClaim creates a cache claim's volume and the claim (either may
// exist already: a restart between the two is harmless).
func (p *Provider) ensureClaim(ctx context.Context, ref claimRef) error {
	t, ok := p.template(ref.template)
	if !ok {
		return nil
	}
	var cache config.Cache
	for _, c := range t.Caches {
		if c.Name == ref.cache {
			cache = c
		}
	}
	core := p.opts.Kube.CoreV1()
	pv := render.CacheVolume(p.cfg, t, cache, p.ns, ref.index)
	if _, err := core.PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("provider: create cache volume %s: %w", pv.Name, err)
	}
	pvc := render.CacheClaim(t, cache, p.ns, ref.index)
	if _, err := core.PersistentVolumeClaims(p.ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("provider: create cache claim %s: %w", pvc.Name, err)
	}
	p.log.Info("created a cache claim", "claim", pvc.Name, "template", t.Name, "cache", cache.Name, "size", cache.Size.String())
	return nil
}
