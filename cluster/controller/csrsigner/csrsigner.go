// Package csrsigner approves and signs certificates.k8s.io/v1 CertificateSigningRequests for
// the signers kubernetes.io/kubelet-serving and kubernetes.io/kube-apiserver-client-kubelet
// with drover's CA, as Kubernetes' CSR approving and signing controllers (and the
// kubelet-serving approvers run beside them) do: a node agent's request for its serving
// certificate (CN=system:node:NAME, O=system:nodes, usages digital signature, key
// encipherment and server auth, names and IPs of that Node only), made by the admin or by the
// node itself, and its request for its client certificate (same subject, no names, client
// auth), made with a bootstrap token or by the node itself, are approved and signed; anything
// else is left for a person (`kubectl certificate approve`), and other signers' requests are
// left to their signers.
package csrsigner

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	certlisters "k8s.io/client-go/listers/certificates/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/drover-ci/drover/cluster/controller"
)

// Condition reasons, as Kubernetes' approver and signer write them.
const (
	ReasonAutoApproved      = "AutoApproved"
	ReasonSignerValidation  = "SignerValidationFailure"
	defaultDuration         = 365 * 24 * time.Hour
	pendingNodeRecheckDelay = 5 * time.Second
)

// Controller approves and signs kubelet-serving CSRs.
type Controller struct {
	client kubernetes.Interface
	csrs   certlisters.CertificateSigningRequestLister
	nodes  corelisters.NodeLister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
	ca     *CA // nil: no signing key configured; the controller idles
	clock  clock.Clock
	log    *slog.Logger
}

// New builds the controller; the CA comes from Options.ClusterSigningCertFile and KeyFile.
func New(cc controller.Context) (*Controller, error) {
	c := &Controller{client: cc.Client, clock: cc.Clock, log: cc.LoggerOrDiscard()}
	if c.clock == nil {
		c.clock = clock.RealClock{}
	}
	if f := cc.Options.ClusterSigningCertFile; f != "" {
		ca, err := LoadCA(f, cc.Options.ClusterSigningKeyFile)
		if err != nil {
			return nil, err
		}
		c.ca = ca
	}
	csrInf := cc.Informers.Certificates().V1().CertificateSigningRequests()
	nodeInf := cc.Informers.Core().V1().Nodes()
	c.csrs, c.nodes = csrInf.Lister(), nodeInf.Lister()
	c.synced = []cache.InformerSynced{csrInf.Informer().HasSynced, nodeInf.Informer().HasSynced}
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "csrsigner"})
	_, err := csrInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
	})
	return c, err
}

// Name is "csrsigner".
func (c *Controller) Name() string { return "csrsigner" }

func (c *Controller) enqueue(obj interface{}) {
	if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
		c.queue.Add(csr.Name)
	}
}

// Run works the queue until ctx ends (without a CA it only waits).
func (c *Controller) Run(ctx context.Context) error {
	if c.ca == nil {
		stop := controller.ShutDownOnDone(ctx, c.queue)
		defer stop()
		c.log.Info("no cluster signing key: kubelet-serving CSRs are not signed")
		<-ctx.Done()
		return nil
	}
	return controller.RunWorkers(ctx, c.log, c.queue, c.synced, 2, c.Sync)
}

// Sync approves the named CSR when it is a node's serving request, and signs it once approved.
func (c *Controller) Sync(ctx context.Context, name string) (time.Duration, error) {
	csr, err := c.csrs.Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(csr.Status.Certificate) > 0 || has(csr, certificatesv1.CertificateDenied) || has(csr, certificatesv1.CertificateFailed) {
		return 0, nil
	}
	switch csr.Spec.SignerName {
	case certificatesv1.KubeletServingSignerName:
		return c.syncServing(ctx, csr)
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		return 0, c.syncClient(ctx, csr)
	}
	return 0, nil
}

// syncServing approves a node's serving request once its Node shows the names it asks for,
// and signs it once approved.
func (c *Controller) syncServing(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) (time.Duration, error) {
	name := csr.Name
	req, reqErr := parseRequest(csr)
	if !has(csr, certificatesv1.CertificateApproved) {
		if reqErr != nil {
			c.log.Info("kubelet-serving CSR not auto-approved", "csr", name, "reason", reqErr)
			return 0, nil
		}
		node, err := c.nodes.Get(nodeName(req))
		if apierrors.IsNotFound(err) {
			// The node registers before it asks; a cache behind the API catches up.
			return pendingNodeRecheckDelay, nil
		}
		if err != nil {
			return 0, err
		}
		if reason := ApprovalRefusal(csr, req, node); reason != "" {
			c.log.Info("kubelet-serving CSR not auto-approved", "csr", name, "reason", reason)
			return 0, nil
		}
		return 0, c.approve(ctx, csr, "Auto approving kubelet serving certificate after SubjectAccessReview.")
	}
	if reqErr != nil {
		return 0, c.fail(ctx, csr, reqErr.Error())
	}
	return 0, c.sign(ctx, csr, req)
}

// syncClient approves a node's client request when its requestor may create it, by
// SubjectAccessReview as Kubernetes' csrapproving does (a node renewing its own certificate:
// certificatesigningrequests/selfnodeclient; a joining node's bootstrap token or an admin:
// certificatesigningrequests/nodeclient), and signs it once approved: the node agent's
// credential for the API server, system:node:NAME in system:nodes.
func (c *Controller) syncClient(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	req, reqErr := parseClientRequest(csr)
	if !has(csr, certificatesv1.CertificateApproved) {
		if reqErr != nil {
			c.log.Info("kube-apiserver-client-kubelet CSR not auto-approved", "csr", csr.Name, "reason", reqErr)
			return nil
		}
		var tried []string
		for _, r := range clientRecognizers(csr, req) {
			ok, err := c.requestorMay(ctx, csr, r.subresource)
			if err != nil {
				return err
			}
			if ok {
				return c.approve(ctx, csr, r.msg)
			}
			tried = append(tried, r.subresource)
		}
		c.log.Info("kube-apiserver-client-kubelet CSR not auto-approved: subject access review was not approved",
			"csr", csr.Name, "requestor", csr.Spec.Username, "recognized as", tried)
		return nil
	}
	if reqErr != nil {
		return c.fail(ctx, csr, reqErr.Error())
	}
	return c.sign(ctx, csr, req)
}

func has(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, cond := range csr.Status.Conditions {
		if cond.Type == t && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func (c *Controller) approve(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, msg string) error {
	csr = csr.DeepCopy()
	now := metav1.NewTime(c.clock.Now())
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: ReasonAutoApproved,
		Message: msg, LastUpdateTime: now, LastTransitionTime: now})
	_, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{})
	if err == nil {
		c.log.Info("approved CSR", "csr", csr.Name, "signer", csr.Spec.SignerName, "requestor", csr.Spec.Username)
	}
	return err
}

func (c *Controller) fail(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, msg string) error {
	csr = csr.DeepCopy()
	now := metav1.NewTime(c.clock.Now())
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: ReasonSignerValidation,
		Message: "Validation of the request failed: " + msg, LastUpdateTime: now, LastTransitionTime: now})
	_, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{})
	return err
}

func (c *Controller) sign(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) error {
	d := defaultDuration
	if e := csr.Spec.ExpirationSeconds; e != nil {
		d = time.Duration(*e) * time.Second
	}
	der, err := c.ca.Sign(req, csr.Spec.Usages, c.clock.Now(), d)
	if err != nil {
		return err
	}
	csr = csr.DeepCopy()
	csr.Status.Certificate = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if _, err := c.client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
		return err
	}
	c.log.Info("signed CSR", "csr", csr.Name, "signer", csr.Spec.SignerName, "subject", req.Subject.CommonName)
	return nil
}

// LoadCA reads the signing CA's certificate and key (PEM files, as the controller manager's
// --cluster-signing-cert-file and --cluster-signing-key-file).
func LoadCA(certFile, keyFile string) (*CA, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("cluster signing certificate: %w", err)
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster signing key: %w", err)
	}
	return ParseCA(cb, kb)
}

var errNoPEM = errors.New("no PEM block")
