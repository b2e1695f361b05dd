package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/warning"
	psadmission "k8s.io/pod-security-admission/admission"
	psconfig "k8s.io/pod-security-admission/admission/api"
	psapi "k8s.io/pod-security-admission/api"
	psmetrics "k8s.io/pod-security-admission/metrics"
	"k8s.io/pod-security-admission/policy"

	"github.com/drover-ci/drover/cluster/registry"
)

// PodSecurityExemptions are what Pod Security Admission never evaluates (the Exemptions of
// Kubernetes' PodSecurityConfiguration): requests by these users, pods in these namespaces,
// pods of these runtime classes.
type PodSecurityExemptions struct {
	Usernames      []string
	Namespaces     []string
	RuntimeClasses []string
}

// podSecurity is Kubernetes' PodSecurity admission plugin, k8s.io/pod-security-admission's
// own Admission: a namespace's pod-security.kubernetes.io/enforce|warn|audit labels (and their
// -version), else the cluster default, decide which Pod Security Standard pods are held to.
// Pods are checked on create and on updates that change what the standards look at (upstream's
// isSignificantPodUpdate); workloads (Deployments, StatefulSets, DaemonSets, Jobs, CronJobs,
// ReplicaSets, RCs, PodTemplates) get warnings and audit records only; a namespace whose
// enforce level is tightened warns about its existing pods that would violate it, and a
// namespace with invalid labels is refused.
type podSecurity struct {
	adm *psadmission.Admission
}

// newPodSecurity holds namespaces without labels to level (privileged, baseline or
// restricted; "" is privileged, as Kubernetes' default) for enforce, warn and audit.
func (s *Server) newPodSecurity(level string, ex PodSecurityExemptions) (*podSecurity, error) {
	if level == "" {
		level = string(psapi.LevelPrivileged)
	}
	if _, err := psapi.ParseLevel(level); err != nil {
		return nil, fmt.Errorf("apiserver: pod security default: %w", err)
	}
	eval, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		return nil, fmt.Errorf("apiserver: pod security evaluator: %w", err)
	}
	sorted := func(in []string) []string {
		out := append([]string(nil), in...)
		sort.Strings(out)
		return out
	}
	cfg := &psconfig.PodSecurityConfiguration{
		Defaults: psconfig.PodSecurityDefaults{Enforce: level, EnforceVersion: "latest", Warn: level, WarnVersion: "latest",
			Audit: level, AuditVersion: "latest"},
		Exemptions: psconfig.PodSecurityExemptions{Usernames: sorted(ex.Usernames), Namespaces: sorted(ex.Namespaces),
			RuntimeClasses: sorted(ex.RuntimeClasses)},
	}
	adm := &psadmission.Admission{Configuration: cfg, Evaluator: eval, Metrics: noMetrics{},
		NamespaceGetter: psNamespaces{s}, PodLister: psPods{s}}
	if err := adm.CompleteConfiguration(); err != nil {
		return nil, fmt.Errorf("apiserver: pod security: %w", err)
	}
	if err := adm.ValidateConfiguration(); err != nil {
		return nil, fmt.Errorf("apiserver: pod security: %w", err)
	}
	return &podSecurity{adm: adm}, nil
}

// admitPodSecurity evaluates a create (old nil) or update of res: a refusal is the API error
// upstream's response carries (403 "violates PodSecurity ...", 422 for invalid namespace
// labels), warnings become Warning headers, audit annotations are logged.
func (s *Server) admitPodSecurity(ctx context.Context, res *registry.Resource, sub string, obj, old runtime.Object) error {
	gr := res.GroupVersionResource().GroupResource()
	if s.psa == nil || gr != corev1.Resource("namespaces") && !s.psa.adm.PodSpecExtractor.HasPodSpec(gr) {
		return nil
	}
	m := accessor(obj)
	attrs := &psapi.AttributesRecord{Name: m.GetName(), Namespace: m.GetNamespace(), Kind: res.GroupVersionKind(),
		Resource: res.GroupVersionResource(), Subresource: sub, Operation: admissionv1.Create, Object: obj}
	if gr == corev1.Resource("namespaces") {
		attrs.Namespace = m.GetName()
	}
	if old != nil {
		attrs.Operation, attrs.OldObject = admissionv1.Update, old
	}
	if u, ok := genericrequest.UserFrom(ctx); ok && u != nil {
		attrs.Username = u.GetName()
	}
	resp := s.psa.adm.Validate(ctx, attrs)
	for _, w := range resp.Warnings {
		addWarning(ctx, w)
	}
	if v := resp.AuditAnnotations[psapi.AuditViolationsAnnotationKey]; v != "" {
		s.log.Info("PodSecurity audit", "resource", gr.String(), "namespace", attrs.Namespace, "name", attrs.Name, "violation", v)
	}
	if resp.Allowed {
		return nil
	}
	if resp.Result == nil {
		return apierrors.NewForbidden(gr, m.GetName(), fmt.Errorf("refused by PodSecurity"))
	}
	return &apierrors.StatusError{ErrStatus: *resp.Result}
}

// admitPodSecurityUpdate evaluates an update of the main resource or a subresource.
func (s *Server) admitPodSecurityUpdate(ctx context.Context, res *registry.Resource, sub string, obj, old runtime.Object) error {
	return s.admitPodSecurity(ctx, res, sub, obj, old)
}

// psNamespaces reads namespaces for the admission.
type psNamespaces struct{ s *Server }

func (n psNamespaces) GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	obj, _, err := n.s.getObject(ctx, n.s.namespaces, "", name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Namespace), nil
}

// psPods lists a namespace's pods for the namespace label checks.
type psPods struct{ s *Server }

func (p psPods) ListPods(ctx context.Context, ns string) ([]*corev1.Pod, error) {
	res, ok := p.s.resources.Lookup(corev1.SchemeGroupVersion.WithResource("pods"))
	if !ok {
		return nil, nil
	}
	objs, _, err := p.s.listObjects(ctx, res, ns)
	if err != nil {
		return nil, err
	}
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		pods = append(pods, o.(*corev1.Pod))
	}
	return pods, nil
}

// noMetrics drops the admission's metrics (drover exports none of them yet).
type noMetrics struct{}

func (noMetrics) RecordEvaluation(psmetrics.Decision, psapi.LevelVersion, psmetrics.Mode, psapi.Attributes) {
}
func (noMetrics) RecordExemption(psapi.Attributes)   {}
func (noMetrics) RecordError(bool, psapi.Attributes) {}

// warnings collects the Warning headers of one request (see withWarnings).
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

type warningsKey struct{}

// withWarnings gives ctx a place for admission warnings, which the handler then sends as
// Warning headers: drover's own (addWarning) and those k8s.io/apiserver's plugins add with
// warning.AddWarning (ValidatingAdmissionPolicy's Warn action, admission webhooks' warnings).
func withWarnings(ctx context.Context) (context.Context, *warnings) {
	w := &warnings{}
	return warning.WithWarningRecorder(context.WithValue(ctx, warningsKey{}, w), w), w
}

// AddWarning is k8s.io/apiserver's warning.Recorder (the agent is dropped, as kube-apiserver
// sends "-").
func (w *warnings) AddWarning(_, text string) {
	if text == "" {
		return
	}
	w.mu.Lock()
	w.msgs = append(w.msgs, text)
	w.mu.Unlock()
}

// send writes the collected warnings as Warning headers (before the answer is written).
func (w *warnings) send(rw http.ResponseWriter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range w.msgs {
		rw.Header().Add("Warning", fmt.Sprintf("299 - %q", m))
	}
}

func addWarning(ctx context.Context, msg string) {
	if w, ok := ctx.Value(warningsKey{}).(*warnings); ok {
		w.mu.Lock()
		w.msgs = append(w.msgs, msg)
		w.mu.Unlock()
	}
}
