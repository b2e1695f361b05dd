package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// runningPod creates a pod labelled app=web, binds it to node-1 and reports it Running (and
// Ready when ready).
func runningPod(t *testing.T, cs kubernetes.Interface, name string, ready bool) *corev1.Pod {
	t.Helper()
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, newPod(name, map[string]string{"app": "web"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: status})
	if p, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// budget creates a PDB over app=web whose status (as the disruption controller would write it)
// allows allowed disruptions, healthy pods of desired.
func budget(t *testing.T, cs kubernetes.Interface, name string, allowed, healthy, desired int32) *policyv1.PodDisruptionBudget {
	t.Helper()
	ctx := testCtx(t)
	two := intstr.FromInt32(desired)
	pdbs := cs.PolicyV1().PodDisruptionBudgets("default")
	pdb, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &two,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: allowed,
		CurrentHealthy: healthy, DesiredHealthy: desired, ExpectedPods: healthy,
		Conditions: []metav1.Condition{{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue,
			Reason: policyv1.SufficientPodsReason, LastTransitionTime: metav1.Now()}}}
	if pdb, err = pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return pdb
}

func evict(ctx context.Context, cs kubernetes.Interface, name string, opts *metav1.DeleteOptions) error {
	return cs.PolicyV1().Evictions("default").Evict(ctx, &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, DeleteOptions: opts})
}

func TestEvictionWithoutBudgetDeletesGracefully(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	runningPod(t, cs, "p", true)
	if err := evict(ctx, cs, "p", nil); err != nil {
		t.Fatalf("evict: %v", err)
	}
	p, err := cs.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.DeletionTimestamp == nil || p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("evicted pod: deletionTimestamp %v grace %v, want a graceful deletion of 30 s", p.DeletionTimestamp, p.DeletionGracePeriodSeconds)
	}
	var cond *corev1.PodCondition
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.DisruptionTarget {
			cond = &p.Status.Conditions[i]
		}
	}
	if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != "EvictionByEvictionAPI" {
		t.Fatalf("DisruptionTarget condition = %+v", cond)
	}
}

func TestEvictionHonoursBudget(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	runningPod(t, cs, "a", true)
	runningPod(t, cs, "b", true)
	budget(t, cs, "web", 1, 3, 2)

	if err := evict(ctx, cs, "a", nil); err != nil {
		t.Fatalf("first eviction: %v", err)
	}
	pdb, err := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pdb.Status.DisruptionsAllowed != 0 || pdb.Status.DisruptedPods["a"].Time.IsZero() {
		t.Fatalf("budget after the eviction: allowed %d disrupted %v", pdb.Status.DisruptionsAllowed, pdb.Status.DisruptedPods)
	}
	for _, c := range pdb.Status.Conditions {
		if c.Type == policyv1.DisruptionAllowedCondition && (c.Status != metav1.ConditionFalse || c.Reason != policyv1.InsufficientPodsReason) {
			t.Errorf("condition after the last allowed eviction = %+v", c)
		}
	}
	// The budget is used up: 429 with Kubernetes' message and a DisruptionBudget cause, and
	// no Retry-After header (kubectl drain retries by itself, every 5 s).
	body := `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"b","namespace":"default"}}`
	resp := doRaw(t, srv, http.MethodPost, "/api/v1/namespaces/default/pods/b/eviction", "application/json", []byte(body))
	if resp.code != http.StatusTooManyRequests {
		t.Fatalf("second eviction: %d %s, want 429", resp.code, resp.body)
	}
	st := resp.status(t)
	if st.Reason != metav1.StatusReasonTooManyRequests || st.Message != "Cannot evict pod as it would violate the pod's disruption budget." ||
		st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != policyv1.DisruptionBudgetCause ||
		st.Details.Causes[0].Message != "The disruption budget web needs 2 healthy pods and has 3 currently" {
		t.Fatalf("429 status = %+v", st)
	}
	if h := resp.header.Get("Retry-After"); h != "" {
		t.Errorf("Retry-After %q on a used-up budget", h)
	}
	if p, _ := cs.CoreV1().Pods("default").Get(ctx, "b", metav1.GetOptions{}); p.DeletionTimestamp != nil {
		t.Fatal("pod b deleted although its budget refused")
	}
}

func TestEvictionDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	runningPod(t, cs, "a", true)
	before := budget(t, cs, "web", 1, 3, 2)
	if err := evict(ctx, cs, "a", &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("dry-run eviction: %v", err)
	}
	// dryRun in the query does the same.
	body := `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"a"}}`
	if resp := doRaw(t, srv, http.MethodPost, "/api/v1/namespaces/default/pods/a/eviction?dryRun=All", "application/json", []byte(body)); resp.code != http.StatusCreated {
		t.Fatalf("dry-run eviction by query: %d %s", resp.code, resp.body)
	}
	after, _ := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
	if after.ResourceVersion != before.ResourceVersion || after.Status.DisruptionsAllowed != 1 {
		t.Fatalf("dry run changed the budget: rv %s→%s allowed %d", before.ResourceVersion, after.ResourceVersion, after.Status.DisruptionsAllowed)
	}
	if p, _ := cs.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{}); p.DeletionTimestamp != nil || len(p.Status.Conditions) != 2 {
		t.Fatalf("dry run touched the pod: %+v", p.Status.Conditions)
	}
	// Different dry-run values in the query and the body are refused.
	body = `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"a"},"deleteOptions":{"dryRun":["Bogus"]}}`
	if resp := doRaw(t, srv, http.MethodPost, "/api/v1/namespaces/default/pods/a/eviction?dryRun=All", "application/json", []byte(body)); resp.code != http.StatusBadRequest {
		t.Fatalf("mismatched dry run: %d %s, want 400", resp.code, resp.body)
	}
}

func TestEvictionConcurrentEvictionsShareOneDisruption(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	const n = 5
	for i := range n {
		runningPod(t, cs, fmt.Sprintf("p%d", i), true)
	}
	budget(t, cs, "web", 1, n, n-1)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = evict(ctx, cs, fmt.Sprintf("p%d", i), nil)
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case apierrors.IsTooManyRequests(err):
		default:
			t.Errorf("eviction %d: %v", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d evictions succeeded against a budget allowing 1", ok)
	}
	list, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	terminating := 0
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			terminating++
		}
	}
	pdb, _ := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
	if terminating != 1 || len(pdb.Status.DisruptedPods) != 1 || pdb.Status.DisruptionsAllowed != 0 {
		t.Fatalf("%d pods terminating, disruptedPods %v, allowed %d; want 1, one entry, 0", terminating, pdb.Status.DisruptedPods, pdb.Status.DisruptionsAllowed)
	}
}

func TestEvictionSpecialCases(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	runningPod(t, cs, "a", true)
	budget(t, cs, "web", 0, 2, 2)

	// A terminal pod goes regardless of its budget.
	done := runningPod(t, cs, "done", true)
	done.Status.Phase = corev1.PodSucceeded
	if _, err := cs.CoreV1().Pods("default").UpdateStatus(ctx, done, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := evict(ctx, cs, "done", nil); err != nil {
		t.Fatalf("evict a succeeded pod: %v", err)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "done", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("succeeded pod after eviction: %v, want it gone", err)
	}
	// An unready pod goes when the budget is otherwise met (healthy 2 >= desired 2).
	runningPod(t, cs, "sick", false)
	if err := evict(ctx, cs, "sick", nil); err != nil {
		t.Fatalf("evict an unready pod: %v", err)
	}
	// A policy/v1beta1 body is accepted; a name unlike the URL's is not.
	v1beta1 := `{"apiVersion":"policy/v1beta1","kind":"Eviction","metadata":{"name":"a"}}`
	if resp := doRaw(t, srv, http.MethodPost, "/api/v1/namespaces/default/pods/a/eviction", "application/json", []byte(v1beta1)); resp.code != http.StatusTooManyRequests {
		t.Fatalf("v1beta1 eviction: %d %s, want 429 (budget)", resp.code, resp.body)
	}
	other := `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"b"}}`
	if resp := doRaw(t, srv, http.MethodPost, "/api/v1/namespaces/default/pods/a/eviction", "application/json", []byte(other)); resp.code != http.StatusBadRequest {
		t.Fatalf("name mismatch: %d %s, want 400", resp.code, resp.body)
	}
	// A status the controller has not brought up to the budget's generation: 429, retry in 10 s.
	pdbs := cs.PolicyV1().PodDisruptionBudgets("default")
	pdb, _ := pdbs.Get(ctx, "web", metav1.GetOptions{})
	five := intstr.FromInt32(1)
	pdb.Spec.MinAvailable = &five
	if _, err := pdbs.Update(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	body := `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"a"}}`
	resp := doRaw(t, srv, http.MethodPost, "/api/v1/namespaces/default/pods/a/eviction", "application/json", []byte(body))
	if resp.code != http.StatusTooManyRequests || resp.header.Get("Retry-After") != "10" {
		t.Fatalf("stale budget: %d Retry-After %q %s", resp.code, resp.header.Get("Retry-After"), resp.body)
	}
	// Two budgets over one pod: 500, as Kubernetes.
	budget(t, cs, "web2", 1, 2, 1)
	resp = doRaw(t, srv, http.MethodPost, "/api/v1/namespaces/default/pods/a/eviction", "application/json", []byte(body))
	if resp.code != http.StatusInternalServerError || resp.status(t).Message != "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support." {
		t.Fatalf("two budgets: %d %s", resp.code, resp.body)
	}
	// A pod that does not exist: 404.
	missing := `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"nope"}}`
	if resp := doRaw(t, srv, http.MethodPost, "/api/v1/namespaces/default/pods/nope/eviction", "application/json", []byte(missing)); resp.code != http.StatusNotFound {
		t.Fatalf("missing pod: %d %s", resp.code, resp.body)
	}
}

func TestEvictionInDiscovery(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	list, err := cs.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list.APIResources {
		if r.Name == "pods/eviction" {
			b, _ := json.Marshal(r)
			if r.Group != "policy" || r.Version != "v1" || r.Kind != "Eviction" || len(r.Verbs) != 1 || r.Verbs[0] != "create" {
				t.Fatalf("pods/eviction = %s", b)
			}
			return
		}
	}
	t.Fatal("discovery does not list pods/eviction (kubectl drain would fall back to DELETE)")
}

func TestEvictionHonoursDeleteOptions(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	p := runningPod(t, cs, "a", true)
	budget(t, cs, "web", 1, 2, 1)
	// A UID precondition that does not match: 409, and the budget gets its disruption back.
	wrong := types.UID("not-" + string(p.UID))
	err := evict(ctx, cs, "a", &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrong}})
	if !apierrors.IsConflict(err) {
		t.Fatalf("eviction with a wrong uid precondition: %v, want 409", err)
	}
	pdb, _ := cs.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
	if len(pdb.Status.DisruptedPods) != 0 || pdb.Status.DisruptionsAllowed != 1 {
		t.Errorf("after a failed eviction: disruptedPods %v, allowed %d; want the pod taken out and 1 again", pdb.Status.DisruptedPods, pdb.Status.DisruptionsAllowed)
	}
	// gracePeriodSeconds 0: the pod goes at once instead of waiting for its node agent.
	zero := int64(0)
	if err := evict(ctx, cs, "a", &metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &p.UID}}); err != nil {
		t.Fatalf("evict with grace 0: %v", err)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod after an eviction with grace 0: %v, want it gone", err)
	}
}
