package apiserver

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	psadmission "k8s.io/pod-security-admission/admission"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// podSecurity is Kubernetes' PodSecurity admission plugin (k8s.io/pod-security-admission):
// a namespace's pod-security.kubernetes.io/enforce|warn|audit labels (and their -version),
// else the cluster default, decide which Pod Security Standard a new pod is held to.
type podSecurity struct {
	eval     policy.Evaluator
	defaults psapi.Policy
}

// newPodSecurity holds namespaces without labels to level (privileged, baseline or
// restricted; "" is privileged, as Kubernetes' default) for enforce, warn and audit.
func newPodSecurity(level string) (*podSecurity, error) {
	if level == "" {
		level = string(psapi.LevelPrivileged)
	}
	l, err := psapi.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("apiserver: pod security default: %w", err)
	}
	eval, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		return nil, fmt.Errorf("apiserver: pod security evaluator: %w", err)
	}
	lv := psapi.LevelVersion{Level: l, Version: psapi.LatestVersion()}
	return &podSecurity{eval: eval, defaults: psapi.Policy{Enforce: lv, Warn: lv, Audit: lv}}, nil
}

// admitPodSecurity evaluates a new pod or pod-template-bearing object in namespace ns: a pod
// that violates the enforce level is forbidden with Kubernetes' message; violations of the
// warn level (and, for workloads, of the enforce level) are warnings; of the audit level,
// logged.
func (s *Server) admitPodSecurity(ctx context.Context, gr schema.GroupResource, obj runtime.Object) error {
	if s.psa == nil {
		return nil
	}
	m := accessor(obj)
	meta, spec, err := psadmission.DefaultPodSpecExtractor{}.ExtractPodSpec(obj)
	if err != nil || spec == nil {
		return nil // not a pod-bearing resource
	}
	nsObj, _, err := s.getObject(ctx, s.namespaces, "", m.GetNamespace())
	if err != nil {
		return nil // the namespace check answers for a missing namespace
	}
	nsp, perrs := psapi.PolicyToEvaluate(nsObj.(*corev1.Namespace).Labels, s.psa.defaults)
	if len(perrs) > 0 {
		s.log.Warn("PodSecurity: invalid namespace labels", "namespace", m.GetNamespace(), "err", perrs.ToAggregate())
	}
	if nsp.FullyPrivileged() {
		return nil
	}
	results := map[psapi.LevelVersion]policy.AggregateCheckResult{}
	eval := func(lv psapi.LevelVersion) policy.AggregateCheckResult {
		r, ok := results[lv]
		if !ok {
			r = policy.AggregateCheckResults(s.psa.eval.EvaluatePod(lv, meta, spec))
			results[lv] = r
		}
		return r
	}
	_, isPod := obj.(*corev1.Pod)
	if r := eval(nsp.Enforce); !r.Allowed {
		if isPod {
			return apierrors.NewForbidden(gr, m.GetName(), fmt.Errorf("violates PodSecurity %q: %s", nsp.Enforce.String(), r.ForbiddenDetail()))
		}
		addWarning(ctx, fmt.Sprintf("would violate PodSecurity %q: %s", nsp.Enforce.String(), r.ForbiddenDetail()))
	}
	if r := eval(nsp.Audit); !r.Allowed {
		s.log.Info("PodSecurity audit", "resource", gr.String(), "namespace", m.GetNamespace(), "name", m.GetName(),
			"violation", fmt.Sprintf("would violate PodSecurity %q: %s", nsp.Audit.String(), r.ForbiddenDetail()))
	}
	// A pod allowed by enforce, or a workload whose warn level differs from its enforce level.
	if r := eval(nsp.Warn); !r.Allowed && (isPod || nsp.Warn != nsp.Enforce) {
		addWarning(ctx, fmt.Sprintf("would violate PodSecurity %q: %s", nsp.Warn.String(), r.ForbiddenDetail()))
	}
	return nil
}

// warnings collects the Warning headers of one request (see withWarnings).
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

type warningsKey struct{}

// withWarnings gives ctx a place for admission warnings, which the handler then sends as
// Warning headers.
func withWarnings(ctx context.Context) (context.Context, *warnings) {
	w := &warnings{}
	return context.WithValue(ctx, warningsKey{}, w), w
}

func addWarning(ctx context.Context, msg string) {
	if w, ok := ctx.Value(warningsKey{}).(*warnings); ok {
		w.mu.Lock()
		w.msgs = append(w.msgs, msg)
		w.mu.Unlock()
	}
}
