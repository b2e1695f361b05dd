package volume

import (
	"context"
	"fmt"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// tokenMaxTTL: a token older than this is refreshed whatever its expiry (the kubelet's maxTTL).
const tokenMaxTTL = 24 * time.Hour

// tokens caches the ServiceAccount tokens of projected volumes, per pod, as the kubelet's
// token manager does: a token is requested through TokenRequest, bound to its pod, and
// requested again once 80 % of its lifetime has passed (or after 24 hours).
type tokens struct {
	mu    sync.Mutex
	byPod map[types.UID]map[string]*authenticationv1.TokenRequest // key: audience and expiry
}

// refreshAt is when tr must be replaced.
func refreshAt(tr *authenticationv1.TokenRequest) time.Time {
	exp := tr.Status.ExpirationTimestamp.Time
	ttl := time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	iat := exp.Add(-ttl)
	at := exp.Add(-ttl / 5)
	if m := iat.Add(tokenMaxTTL); m.Before(at) {
		at = m
	}
	return at
}

// serviceAccountToken is the token file of a serviceAccountToken projection.
func (m *Manager) serviceAccountToken(ctx context.Context, pod *corev1.Pod, p *corev1.ServiceAccountTokenProjection, mode *int32) (map[string]file, error) {
	expiration := int64(3600)
	if p.ExpirationSeconds != nil {
		expiration = *p.ExpirationSeconds
	}
	key := fmt.Sprintf("%s/%d", p.Audience, expiration)
	now := m.now()
	m.tokens.mu.Lock()
	tr := m.tokens.byPod[pod.UID][key]
	m.tokens.mu.Unlock()
	if tr == nil || !now.Before(refreshAt(tr)) {
		req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiration,
			BoundObjectRef: &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}}}
		if p.Audience != "" {
			req.Spec.Audiences = []string{p.Audience}
		}
		fresh, err := m.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName, req, metav1.CreateOptions{})
		if err != nil {
			if tr != nil && now.Before(tr.Status.ExpirationTimestamp.Time) {
				fresh = tr // keep serving the old one while it is valid; retried next sync
			} else {
				return nil, fmt.Errorf("failed to fetch token: %w", err)
			}
		}
		if fresh.Spec.ExpirationSeconds == nil {
			fresh.Spec.ExpirationSeconds = &expiration
		}
		tr = fresh
		m.tokens.mu.Lock()
		if m.tokens.byPod == nil {
			m.tokens.byPod = map[types.UID]map[string]*authenticationv1.TokenRequest{}
		}
		if m.tokens.byPod[pod.UID] == nil {
			m.tokens.byPod[pod.UID] = map[string]*authenticationv1.TokenRequest{}
		}
		m.tokens.byPod[pod.UID][key] = tr
		m.tokens.mu.Unlock()
	}
	return map[string]file{p.Path: {data: []byte(tr.Status.Token), mode: fileMode(mode)}}, nil
}

// RefreshAfter is how long until a token of the pod's projected volumes is due for refresh
// (0: it has none). The node agent syncs the pod again then, and Setup writes the new token.
func (m *Manager) RefreshAfter(uid types.UID) time.Duration {
	m.tokens.mu.Lock()
	defer m.tokens.mu.Unlock()
	var next time.Time
	for _, tr := range m.tokens.byPod[uid] {
		if at := refreshAt(tr); next.IsZero() || at.Before(next) {
			next = at
		}
	}
	if next.IsZero() {
		return 0
	}
	return max(next.Sub(m.now()), time.Second)
}

// forgetTokens drops the pod's tokens (its volumes are gone).
func (m *Manager) forgetTokens(uid types.UID) {
	m.tokens.mu.Lock()
	defer m.tokens.mu.Unlock()
	delete(m.tokens.byPod, uid)
}
