package runner

import (
	"context"
	"encoding/json"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/provider"
)

// writeError records why the provider is not running in its status ConfigMap (as the
// provider's Status with JenkinsError set), so `drover jenkins status` shows it.
func (r *Runner) writeError(ctx context.Context, cfg *config.Config, cause error) {
	ns := namespaceOf(cfg)
	st := provider.Status{UpdatedAt: time.Now().UTC(), JenkinsURL: cfg.URL, JenkinsError: cause.Error(),
		Namespace: ns, ContainerCap: cfg.ContainerCap}
	for _, t := range cfg.Templates {
		st.Templates = append(st.Templates, provider.TemplateStatus{Name: t.Name, Label: t.Label, Mode: t.Mode,
			InstanceCap: t.InstanceCap, MinIdle: t.MinIdle})
	}
	if err := WriteStatus(ctx, r.client.CoreV1(), ns, st); err != nil {
		r.log.Warn("jenkins cloud: writing status", "namespace", ns, "err", err)
	}
}

// WriteStatus stores st as JSON under provider.StatusKey of the ConfigMap
// provider.StatusConfigMap in namespace ns, creating it if needed.
func WriteStatus(ctx context.Context, core typedcorev1.CoreV1Interface, ns string, st provider.Status) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	cms := core.ConfigMaps(ns)
	cm, err := cms.Get(ctx, provider.StatusConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: provider.StatusConfigMap, Namespace: ns},
			Data: map[string]string{provider.StatusKey: string(b)}}
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[provider.StatusKey] = string(b)
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}
