package pvbinder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/drover-ci/drover/cluster/controller"
)

// Annotations Kubernetes' binder sets.
const (
	annBindCompleted = "pv.kubernetes.io/bind-completed"
	annBoundByCtrl   = "pv.kubernetes.io/bound-by-controller"
	keyVolumes       = "\x00volumes" // queue key: look at every volume
)

// Controller is the PV/PVC binder.
type Controller struct {
	client   kubernetes.Interface
	pvs      corelisters.PersistentVolumeLister
	pvcs     corelisters.PersistentVolumeClaimLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	log      *slog.Logger
}

// New builds the binder from the manager's context.
func New(cc controller.Context) (*Controller, error) {
	pvInf := cc.Informers.Core().V1().PersistentVolumes()
	pvcInf := cc.Informers.Core().V1().PersistentVolumeClaims()
	var rec record.EventRecorder = &record.FakeRecorder{}
	if cc.Recorder != nil {
		rec = cc.Recorder("persistentvolume-controller")
	}
	c := &Controller{client: cc.Client, pvs: pvInf.Lister(), pvcs: pvcInf.Lister(),
		synced:   []cache.InformerSynced{pvInf.Informer().HasSynced, pvcInf.Informer().HasSynced},
		queue:    workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		recorder: rec, log: cc.LoggerOrDiscard()}
	claimChanged := func(obj interface{}) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
		c.queue.Add(keyVolumes) // a claim that went may release a volume
	}
	if _, err := pvcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: claimChanged, UpdateFunc: func(_, n interface{}) { claimChanged(n) }, DeleteFunc: claimChanged,
	}); err != nil {
		return nil, err
	}
	volumeChanged := func(interface{}) { c.queue.Add(keyVolumes); c.requeuePending() }
	if _, err := pvInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: volumeChanged, UpdateFunc: func(_, n interface{}) { volumeChanged(n) }, DeleteFunc: volumeChanged,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// createdMarker is the file the node agent's volume manager (volume.CreatedMarker) leaves in a
// hostPath directory it created for a PersistentVolume: only such a directory is deleted when
// its volume is reclaimed. Spelled here so that the controller does not import the node's volume
// code for one name; TestCreatedMarker keeps the two equal.
const createdMarker = ".drover-created"

// Name is "pvbinder".
func (c *Controller) Name() string { return "pvbinder" }

// Run works until ctx ends (one worker: binding decisions must not race each other).
func (c *Controller) Run(ctx context.Context) error {
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, 1, controller.NoRequeue(func(ctx context.Context, key string) error {
		if key == keyVolumes {
			return c.syncVolumes(ctx)
		}
		return c.syncClaim(ctx, key)
	}))
}

// requeuePending queues every claim still waiting for a volume.
func (c *Controller) requeuePending() {
	claims, _ := c.pvcs.List(labels.Everything())
	for _, pvc := range claims {
		if pvc.Status.Phase != corev1.ClaimBound {
			c.queue.Add(pvc.Namespace + "/" + pvc.Name)
		}
	}
}

// syncClaim binds one pending claim.
func (c *Controller) syncClaim(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	pvc, err := c.pvcs.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil || pvc.DeletionTimestamp != nil || pvc.Status.Phase == corev1.ClaimBound {
		return err
	}
	pvs, err := c.pvs.List(labels.Everything())
	if err != nil {
		return err
	}
	var pv *corev1.PersistentVolume
	if pvc.Spec.VolumeName != "" {
		// Bound by the user to a named volume: take it if it fits and is free (or pre-bound).
		if cand, err := c.pvs.Get(pvc.Spec.VolumeName); err == nil && (prebound(cand, pvc) || (available(cand) && fits(cand, pvc))) {
			pv = cand
		}
	} else {
		pv = Best(pvc, pvs)
	}
	if pv == nil {
		c.recorder.Eventf(pvc, corev1.EventTypeNormal, "FailedBinding", "no persistent volumes available for this claim and no storage class is set")
		return nil
	}
	return c.bind(ctx, pv, pvc)
}

// bind writes the volume's claimRef and phase, then the claim's volumeName and phase.
func (c *Controller) bind(ctx context.Context, pv *corev1.PersistentVolume, pvc *corev1.PersistentVolumeClaim) error {
	v := pv.DeepCopy()
	v.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace,
		Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion}
	setAnn(&v.ObjectMeta, annBoundByCtrl, "yes")
	v, err := c.client.CoreV1().PersistentVolumes().Update(ctx, v, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("bind volume %s: %w", pv.Name, err)
	}
	v.Status.Phase = corev1.VolumeBound
	if _, err := c.client.CoreV1().PersistentVolumes().UpdateStatus(ctx, v, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("volume %s status: %w", pv.Name, err)
	}
	claim := pvc.DeepCopy()
	claim.Spec.VolumeName = pv.Name
	setAnn(&claim.ObjectMeta, annBindCompleted, "yes")
	setAnn(&claim.ObjectMeta, annBoundByCtrl, "yes")
	claim, err = c.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, claim, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("bind claim %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	claim.Status.Phase = corev1.ClaimBound
	claim.Status.AccessModes = pv.Spec.AccessModes
	claim.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: pv.Spec.Capacity[corev1.ResourceStorage]}
	if _, err := c.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, claim, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("claim %s/%s status: %w", pvc.Namespace, pvc.Name, err)
	}
	c.log.Info("bound claim", "claim", pvc.Namespace+"/"+pvc.Name, "volume", pv.Name)
	return nil
}

// syncVolumes marks volumes whose claim is gone Released and applies their reclaim policy; a
// volume with no claim is Available.
func (c *Controller) syncVolumes(ctx context.Context) error {
	pvs, err := c.pvs.List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	for _, pv := range pvs {
		if err := c.syncVolume(ctx, pv); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) syncVolume(ctx context.Context, pv *corev1.PersistentVolume) error {
	ref := pv.Spec.ClaimRef
	if ref == nil {
		if pv.Status.Phase == "" || pv.Status.Phase == corev1.VolumePending {
			return c.setPhase(ctx, pv, corev1.VolumeAvailable)
		}
		return nil
	}
	pvc, err := c.pvcs.PersistentVolumeClaims(ref.Namespace).Get(ref.Name)
	if err == nil && (ref.UID == "" || pvc.UID == ref.UID) {
		return nil // bound (or pre-bound and waiting for its claim)
	}
	if !apierrors.IsNotFound(err) && err != nil {
		return err
	}
	if ref.UID == "" {
		return nil // pre-bound to a claim that does not exist yet
	}
	// The claim is gone.
	switch pv.Spec.PersistentVolumeReclaimPolicy {
	case corev1.PersistentVolumeReclaimDelete:
		return c.deleteVolume(ctx, pv)
	default:
		if pv.Status.Phase != corev1.VolumeReleased {
			c.recorder.Eventf(pv, corev1.EventTypeNormal, "VolumeReleased", "claim %s/%s was deleted; the volume is kept (Retain)", ref.Namespace, ref.Name)
			return c.setPhase(ctx, pv, corev1.VolumeReleased)
		}
	}
	return nil
}

// deleteVolume removes a released volume with the Delete policy: its hostPath directory only
// when drover created it, then the PersistentVolume.
func (c *Controller) deleteVolume(ctx context.Context, pv *corev1.PersistentVolume) error {
	if hp := pv.Spec.HostPath; hp != nil {
		if _, err := os.Stat(filepath.Join(hp.Path, createdMarker)); err == nil {
			if err := os.RemoveAll(hp.Path); err != nil {
				return fmt.Errorf("delete directory of volume %s: %w", pv.Name, err)
			}
			c.log.Info("deleted volume directory", "volume", pv.Name, "path", hp.Path)
		} else {
			c.log.Info("volume directory kept: drover did not create it", "volume", pv.Name, "path", hp.Path)
		}
	}
	err := c.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pv.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete volume %s: %w", pv.Name, err)
	}
	return nil
}

// setPhase writes a volume's phase, re-reading it first: the cache may lag a bind that just
// happened, and Available must never land on a volume that has a claimRef by now.
func (c *Controller) setPhase(ctx context.Context, pv *corev1.PersistentVolume, phase corev1.PersistentVolumePhase) error {
	v, err := c.client.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if (v.Spec.ClaimRef == nil) != (pv.Spec.ClaimRef == nil) ||
		(v.Spec.ClaimRef != nil && v.Spec.ClaimRef.UID != pv.Spec.ClaimRef.UID) {
		return nil // it changed meanwhile; its update event brings it back here
	}
	v.Status.Phase = phase
	_, err = c.client.CoreV1().PersistentVolumes().UpdateStatus(ctx, v, metav1.UpdateOptions{})
	return err
}

func setAnn(m *metav1.ObjectMeta, k, v string) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[k] = v
}
