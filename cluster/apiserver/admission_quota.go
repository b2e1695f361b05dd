package apiserver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/resourcequota"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
	quotav1 "k8s.io/apiserver/pkg/quota/v1"

	"github.com/drover-ci/drover/cluster/quota"
	"github.com/drover-ci/drover/cluster/registry"
	"github.com/drover-ci/drover/cluster/store"
)

// quotaRetries bounds the conditioned writes of one admission's charge.
const quotaRetries = 20

// quotaAdmission is Kubernetes' ResourceQuota admission plugin: a create (or an update the
// resource's evaluator charges, such as a Service's type) is checked against every
// ResourceQuota of its namespace with upstream's CheckRequest, and the new usage is written
// into each quota's status.used, conditioned on the resourceVersion read, before the object
// is stored, so concurrent creates cannot together pass a quota. One charge at a time per
// namespace within a server (as upstream's per-namespace work queue); a conflict (another
// server, the quota controller) re-reads the quotas that failed and charges them again.
type quotaAdmission struct {
	eval  *quota.Evaluators
	mu    sync.Mutex
	locks map[string]*nsLock
}

type nsLock struct {
	mu   sync.Mutex
	refs int
}

func newQuotaAdmission(now func() time.Time) *quotaAdmission {
	return &quotaAdmission{eval: quota.New(nil, now), locks: map[string]*nsLock{}}
}

// lock serialises the charges of one namespace; the returned func unlocks.
func (q *quotaAdmission) lock(ns string) func() {
	q.mu.Lock()
	l := q.locks[ns]
	if l == nil {
		l = &nsLock{}
		q.locks[ns] = l
	}
	l.refs++
	q.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		q.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(q.locks, ns)
		}
		q.mu.Unlock()
	}
}

func (s *Server) quotasRes() (*registry.Resource, bool) {
	return s.resources.Lookup(schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"})
}

// admitQuota charges obj (old: the stored object of an update, else nil) to the quotas of its
// namespace, or refuses it 403 with Kubernetes' message ("exceeded quota: …", "failed quota:
// …: must specify …", "status unknown for quota: …"). A dry run is checked and not charged.
// The returned func gives the charge back (when storing the object failed).
func (s *Server) admitQuota(ctx context.Context, res *registry.Resource, sub string, obj, old runtime.Object, dryRun bool) (func(), error) {
	none := func() {}
	rqRes, ok := s.quotasRes()
	if !ok || s.quota == nil || !res.Namespaced || !res.Stored() {
		return none, nil
	}
	m := accessor(obj)
	op := admission.Create
	if old != nil {
		op = admission.Update
	}
	u, _ := genericrequest.UserFrom(ctx)
	attrs := admission.NewAttributesRecord(obj, old, res.GroupVersionKind(), m.GetNamespace(), m.GetName(),
		res.GroupVersionResource(), sub, op, nil, dryRun, u)
	eval := s.quota.eval.For(res.GroupVersionResource().GroupResource())
	if !eval.Handles(attrs) {
		return none, nil
	}
	unlock := s.quota.lock(m.GetNamespace())
	defer unlock()
	var only map[string]bool // the quotas still to charge; nil: every one
	charged := map[string]corev1.ResourceList{}
	for attempt := 0; attempt < quotaRetries; attempt++ {
		objs, _, err := s.listObjects(ctx, rqRes, m.GetNamespace())
		if err != nil {
			return none, err
		}
		quotas := make([]corev1.ResourceQuota, 0, len(objs))
		for _, o := range objs {
			if rq := o.(*corev1.ResourceQuota); only == nil || only[rq.Name] {
				quotas = append(quotas, *rq)
			}
		}
		if len(quotas) == 0 {
			break
		}
		out, err := resourcequota.CheckRequest(quotas, attrs, eval, nil)
		if err != nil {
			s.refundQuota(m.GetNamespace(), charged)
			return none, err
		}
		if dryRun {
			return none, nil
		}
		failed := map[string]bool{}
		for i := range out {
			if apiequality.Semantic.DeepEqual(out[i].Status.Used, quotas[i].Status.Used) {
				continue
			}
			err := s.writeQuotaStatus(ctx, rqRes, &out[i])
			switch {
			case errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound):
				failed[out[i].Name] = true
			case err != nil:
				s.refundQuota(m.GetNamespace(), charged)
				return none, storeError(err, rqRes.GroupVersionResource().GroupResource(), out[i].Name)
			default:
				charged[out[i].Name] = quotav1.Subtract(out[i].Status.Used, quotas[i].Status.Used)
			}
		}
		if len(failed) == 0 {
			ns := m.GetNamespace()
			return func() { s.refundQuota(ns, charged) }, nil
		}
		only = failed
	}
	if only != nil {
		s.refundQuota(m.GetNamespace(), charged)
		return none, apierrors.NewInternalError(errors.New("resource quota evaluation timed out"))
	}
	ns := m.GetNamespace()
	return func() { s.refundQuota(ns, charged) }, nil
}

// writeQuotaStatus stores rq (its status.used changed) on the condition that it is still the
// version read.
func (s *Server) writeQuotaStatus(ctx context.Context, rqRes *registry.Resource, rq *corev1.ResourceQuota) error {
	b, err := encodeObject(rqRes, rq)
	if err != nil {
		return err
	}
	_, err = s.store.Update(ctx, objectKey(rqRes, rq.Namespace, rq.Name), b, revisionOf(rq))
	return err
}

// refundQuota takes back what a charge added to status.used (the object was not stored),
// best effort: the quota controller recalculates usage anyway.
func (s *Server) refundQuota(ns string, charged map[string]corev1.ResourceList) {
	rqRes, ok := s.quotasRes()
	if !ok || len(charged) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for name, delta := range charged {
		for attempt := 0; attempt < quotaRetries; attempt++ {
			obj, _, err := s.getObject(ctx, rqRes, ns, name)
			if err != nil {
				break
			}
			rq := obj.(*corev1.ResourceQuota)
			rq.Status.Used = quotav1.SubtractWithNonNegativeResult(rq.Status.Used, delta)
			err = s.writeQuotaStatus(ctx, rqRes, rq)
			if err == nil || !errors.Is(err, store.ErrConflict) {
				if err != nil {
					s.log.Warn("resource quota: giving back a charge failed", "namespace", ns, "quota", name, "err", fmt.Sprint(err))
				}
				break
			}
		}
	}
}
