package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	pdbhelper "k8s.io/component-helpers/apps/poddisruptionbudget"

	"github.com/drover-ci/drover/cluster/registry"
)

// Eviction limits and retries, as Kubernetes' pod eviction storage has them.
const (
	// maxDisruptedPods: a budget with more approved evictions the disruption controller has not
	// confirmed refuses further ones.
	maxDisruptedPods = 2000
	// evictionRetries and evictionRetryDelay bound the retries of a conflicting budget or pod.
	evictionRetries    = 20
	evictionRetryDelay = 500 * time.Millisecond
)

var pdbGVR = schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}

// serveEviction handles POST pods/NAME/eviction (Kubernetes' EvictionREST.Create): a pod
// covered by a PodDisruptionBudget is deleted only if the budget allows one more disruption,
// which is consumed (disruptionsAllowed decremented, the pod recorded in disruptedPods, with the
// budget's resourceVersion as precondition) before the deletion; otherwise 429 TooManyRequests.
// Pods that are terminal, pending or already being deleted are deleted without a budget check.
func (s *Server) serveEviction(w http.ResponseWriter, r *http.Request, req *request) {
	if req.verb != "create" {
		writeError(w, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "pods/eviction"}, r.Method))
		return
	}
	ev, err := decodeEviction(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	if ev.Name != req.name {
		writeError(w, badRequest("name in URL does not match name in Eviction object"))
		return
	}
	if ev.Namespace != "" && ev.Namespace != req.namespace {
		writeError(w, badRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	opts, err := evictionDeleteOptions(ev, r)
	if err != nil {
		writeError(w, err)
		return
	}
	st, err := s.evict(r.Context(), req.res, req.namespace, req.name, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	st.Kind, st.APIVersion = "Status", "v1"
	if st.Code == 0 {
		st.Code = http.StatusCreated
	}
	writeJSON(w, int(st.Code), st)
}

// decodeEviction reads a policy/v1 or policy/v1beta1 Eviction (the same fields).
func decodeEviction(w http.ResponseWriter, r *http.Request) (*policyv1.Eviction, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	gv := policyv1.SchemeGroupVersion
	var tm metav1.TypeMeta
	if json.Unmarshal(data, &tm) == nil && tm.APIVersion == policyv1beta1.SchemeGroupVersion.String() {
		gv = policyv1beta1.SchemeGroupVersion
	}
	obj, err := decodeBody(w, r, data, gv.WithKind("Eviction"), func() runtime.Object { return &policyv1.Eviction{} })
	if err != nil {
		return nil, err
	}
	return obj.(*policyv1.Eviction), nil
}

// evictionDeleteOptions are the Eviction's DeleteOptions with the request's dryRun pushed in
// (Kubernetes' propagateDryRun): both set and different is a 400.
func evictionDeleteOptions(ev *policyv1.Eviction, r *http.Request) (*metav1.DeleteOptions, error) {
	var dryRun []string
	if isDryRun(r) {
		dryRun = []string{metav1.DryRunAll}
	}
	if ev.DeleteOptions == nil {
		return &metav1.DeleteOptions{DryRun: dryRun}, nil
	}
	opts := ev.DeleteOptions.DeepCopy()
	switch {
	case len(opts.DryRun) == 0:
		opts.DryRun = dryRun
	case len(dryRun) > 0 && !reflect.DeepEqual(dryRun, opts.DryRun):
		return nil, badRequest("Non-matching dry-run options in request and content: %v and %v", dryRun, opts.DryRun)
	}
	for _, v := range opts.DryRun {
		if v != metav1.DryRunAll {
			return nil, badRequest("dryRun: Unsupported value: %q: supported values: %q", v, metav1.DryRunAll)
		}
	}
	return opts, nil
}

func rvUnset(o *metav1.DeleteOptions) bool {
	return o.Preconditions == nil || o.Preconditions.ResourceVersion == nil
}

func withRVPrecondition(o *metav1.DeleteOptions, rv string) *metav1.DeleteOptions {
	c := o.DeepCopy()
	if c.Preconditions == nil {
		c.Preconditions = &metav1.Preconditions{}
	}
	c.Preconditions.ResourceVersion = &rv
	return c
}

// evict carries out one eviction and returns the Status to answer with.
func (s *Server) evict(ctx context.Context, pods *registry.Resource, ns, name string, opts *metav1.DeleteOptions) (*metav1.Status, error) {
	success := &metav1.Status{Status: metav1.StatusSuccess}
	var pod *corev1.Pod
	for attempt := 0; ; attempt++ {
		obj, _, err := s.getObject(ctx, pods, ns, name)
		if err != nil {
			return nil, err
		}
		pod = obj.(*corev1.Pod)
		if !canIgnorePDB(pod) {
			break
		}
		// A pod that is terminal, pending or already going has disrupted nothing more by going.
		delOpts := opts
		if enforceRV(pod) && rvUnset(opts) {
			delOpts = withRVPrecondition(opts, pod.ResourceVersion)
		}
		err = s.markAndDeletePod(ctx, pods, ns, name, delOpts)
		if err == nil {
			return success, nil
		}
		if !apierrors.IsConflict(err) || !rvUnset(opts) || attempt >= evictionRetries-1 {
			return nil, err
		}
		if err := sleepCtx(ctx, evictionRetryDelay); err != nil {
			return nil, err
		}
	}
	pdbRes, pdbs, err := s.podPDBs(ctx, pod)
	if err != nil {
		return nil, err
	}
	if len(pdbs) > 1 {
		return &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError,
			Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."}, nil
	}
	dryRun := len(opts.DryRun) > 0
	var pdb *policyv1.PodDisruptionBudget
	unhealthyGoes := false // an unready pod may go without using up the budget
	if len(pdbs) == 1 {
		pdb = pdbs[0]
		unhealthyGoes = !podIsReady(pod) && ((pdb.Spec.UnhealthyPodEvictionPolicy != nil && *pdb.Spec.UnhealthyPodEvictionPolicy == policyv1.AlwaysAllow) ||
			(pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0))
		if !unhealthyGoes {
			if err := s.consumeDisruption(ctx, pdbRes, pdb, pod.Name, dryRun); err != nil {
				return nil, err
			}
		}
	}
	delOpts := opts
	if unhealthyGoes {
		// The pod must not have turned ready since the budget was read.
		delOpts = withRVPrecondition(opts, pod.ResourceVersion)
	}
	err = s.markAndDeletePod(ctx, pods, ns, name, delOpts)
	if err == nil {
		return success, nil
	}
	if pdb != nil && !unhealthyGoes && !dryRun {
		s.returnDisruption(pdbRes, pdb.Namespace, pdb.Name, pod.Name)
	}
	if apierrors.IsConflict(err) && unhealthyGoes && rvUnset(opts) {
		return nil, budgetBusy(pdb.Name)
	}
	return nil, err
}

// canIgnorePDB: terminal, pending and terminating pods are evicted without a budget check.
func canIgnorePDB(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed, corev1.PodPending:
		return true
	}
	return pod.DeletionTimestamp != nil
}

// enforceRV: a pod that may still turn ready is deleted only as it was read.
func enforceRV(pod *corev1.Pod) bool {
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed && pod.DeletionTimestamp == nil
}

func podIsReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// podPDBs lists the budgets of the pod's namespace whose selector matches it; a budget with an
// empty or invalid selector matches nothing here.
func (s *Server) podPDBs(ctx context.Context, pod *corev1.Pod) (*registry.Resource, []*policyv1.PodDisruptionBudget, error) {
	res, ok := s.resources.Lookup(pdbGVR)
	if !ok {
		return nil, nil, nil
	}
	objs, _, err := s.listObjects(ctx, res, pod.Namespace)
	if err != nil {
		return nil, nil, err
	}
	var out []*policyv1.PodDisruptionBudget
	for _, o := range objs {
		pdb, ok := o.(*policyv1.PodDisruptionBudget)
		if !ok {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, pdb)
	}
	return res, out, nil
}

// budgetBusy is the 429 a client retries after 10 s: the budget's status is not current.
func budgetBusy(name string) error {
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type: policyv1.DisruptionBudgetCause, Message: fmt.Sprintf("The disruption budget %s is still being processed by the server.", name)})
	return err
}

// consumeDisruption is Kubernetes' checkAndDecrement under RetryOnConflict: it takes one
// disruption from the budget and records the pod in disruptedPods, writing the budget's status
// with the resourceVersion it read as precondition, and re-reads the budget on a conflict.
func (s *Server) consumeDisruption(ctx context.Context, res *registry.Resource, pdb *policyv1.PodDisruptionBudget, podName string, dryRun bool) error {
	for attempt := 0; ; attempt++ {
		err := s.checkAndDecrement(ctx, res, pdb, podName, dryRun)
		if !apierrors.IsConflict(err) {
			return err
		}
		if attempt >= evictionRetries-1 {
			return apierrors.NewTimeoutError(fmt.Sprintf("couldn't update PodDisruptionBudget %q due to conflicts", pdb.Name), 10)
		}
		if err := sleepCtx(ctx, evictionRetryDelay); err != nil {
			return err
		}
		obj, _, err := s.getObject(ctx, res, pdb.Namespace, pdb.Name)
		if err != nil {
			return err
		}
		pdb = obj.(*policyv1.PodDisruptionBudget)
	}
}

func (s *Server) checkAndDecrement(ctx context.Context, res *registry.Resource, pdb *policyv1.PodDisruptionBudget, podName string, dryRun bool) error {
	gr := schema.GroupResource{Group: "policy", Resource: "poddisruptionbudget"}
	switch {
	case pdb.Status.ObservedGeneration < pdb.Generation:
		return budgetBusy(pdb.Name)
	case pdb.Status.DisruptionsAllowed < 0:
		return apierrors.NewForbidden(gr, pdb.Name, errors.New("pdb disruptions allowed is negative"))
	case len(pdb.Status.DisruptedPods) > maxDisruptedPods:
		return apierrors.NewForbidden(gr, pdb.Name, errors.New("DisruptedPods map too big - too many evictions not confirmed by PDB controller"))
	case pdb.Status.DisruptionsAllowed == 0:
		err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause,
			Message: fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy)})
		return err
	}
	next := pdb.DeepCopy()
	next.Status.DisruptionsAllowed--
	if next.Status.DisruptionsAllowed == 0 {
		pdbhelper.UpdateDisruptionAllowedCondition(next)
	}
	if dryRun {
		return nil
	}
	if next.Status.DisruptedPods == nil {
		next.Status.DisruptedPods = map[string]metav1.Time{}
	}
	next.Status.DisruptedPods[podName] = metav1.NewTime(s.now())
	// The read resourceVersion stays on next: update refuses the write if the budget changed.
	_, err := s.update(ctx, res, next.Namespace, next.Name, "status", replaceWith(next), false, false)
	return err
}

// returnDisruption gives the disruption back after the pod's deletion failed: while the pod is
// still in disruptedPods (every count made since left it out), it is taken out and
// disruptionsAllowed raised by one, in one write conditioned on the budget as read, so the
// budget is as if the eviction had not been asked for. Best effort: otherwise the disruption
// controller drops the entry after DeletionTimeout.
func (s *Server) returnDisruption(res *registry.Resource, ns, name, podName string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.update(ctx, res, ns, name, "status", func(cur runtime.Object) (runtime.Object, error) {
		pdb := cur.(*policyv1.PodDisruptionBudget)
		if _, ok := pdb.Status.DisruptedPods[podName]; ok {
			delete(pdb.Status.DisruptedPods, podName)
			pdb.Status.DisruptionsAllowed++
			pdbhelper.UpdateDisruptionAllowedCondition(pdb)
		}
		return pdb, nil
	}, true, false)
	if err != nil {
		s.log.Warn("eviction: could not take a failed eviction out of the budget", "pdb", ns+"/"+name, "pod", podName, "err", err)
	}
}

// markAndDeletePod sets the pod's DisruptionTarget condition (reason EvictionByEvictionAPI),
// then deletes it with opts (Kubernetes' addConditionAndDeletePod); a dry run only checks.
func (s *Server) markAndDeletePod(ctx context.Context, pods *registry.Resource, ns, name string, opts *metav1.DeleteOptions) error {
	if len(opts.DryRun) == 0 {
		obj, err := s.update(ctx, pods, ns, name, "status", func(cur runtime.Object) (runtime.Object, error) {
			pod := cur.(*corev1.Pod)
			if err := checkPreconditions(pod, opts.Preconditions); err != nil {
				return nil, err
			}
			setDisruptionTarget(pod, s.now())
			return pod, nil
		}, true, false)
		if err != nil {
			return err
		}
		if !rvUnset(opts) {
			opts = withRVPrecondition(opts, accessor(obj).GetResourceVersion())
		}
	}
	_, err := s.remove(ctx, pods, ns, name, opts)
	return err
}

func checkPreconditions(pod *corev1.Pod, p *metav1.Preconditions) error {
	gr := schema.GroupResource{Resource: "pods"}
	if p == nil {
		return nil
	}
	if p.UID != nil && *p.UID != "" && *p.UID != pod.UID {
		return apierrors.NewConflict(gr, pod.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, pod.UID))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != "" && *p.ResourceVersion != pod.ResourceVersion {
		return apierrors.NewConflict(gr, pod.Name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, pod.ResourceVersion))
	}
	return nil
}

// setDisruptionTarget sets DisruptionTarget=True, reason EvictionByEvictionAPI (the transition
// time changes only with the status).
func setDisruptionTarget(pod *corev1.Pod, now time.Time) {
	want := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting", LastTransitionTime: metav1.NewTime(now)}
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if c.Type != corev1.DisruptionTarget {
			continue
		}
		if c.Status == want.Status {
			want.LastTransitionTime = c.LastTransitionTime
		}
		*c = want
		return
	}
	pod.Status.Conditions = append(pod.Status.Conditions, want)
}
