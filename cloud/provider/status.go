package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

// publishJenkinsError keeps the last Status but records that Jenkins could
// not be read.
func (p *Provider) publishJenkinsError(ctx context.Context, now time.Time, err error) {
	p.mu.Lock()
	st := p.status
	st.UpdatedAt = now
	p.mu.Unlock()
	st.JenkinsError = err.Error()
	// ctx may be the poll's, ended by its timeout: write with a fresh one.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if perr := p.publish(wctx, st); perr != nil {
		p.log.Debug("could not write the status", "err", perr)
	}
}

// publish stores st as the latest Status and writes it to the ConfigMap
// when it differs (UpdatedAt aside) from what was last written.
func (p *Provider) publish(ctx context.Context, st Status) error {
	key := st
	key.UpdatedAt = time.Time{}
	b, err := json.Marshal(key)
	if err != nil {
		return err
	}
	p.mu.Lock()
	changed := string(b) != p.written
	if !changed {
		st.UpdatedAt = p.status.UpdatedAt
	}
	p.status = st
	p.mu.Unlock()
	if !changed {
		return nil
	}
	if err := WriteStatus(ctx, p.opts.Kube.CoreV1(), p.ns, st); err != nil {
		return err
	}
	p.mu.Lock()
	p.written = string(b)
	p.mu.Unlock()
	return nil
}

// WriteStatus stores st as indented JSON under StatusKey of the ConfigMap
// StatusConfigMap in namespace ns, creating it if needed. The provider
// writes its status with it; the runner, when the provider cannot start.
func WriteStatus(ctx context.Context, core typedcorev1.CoreV1Interface, ns string, st Status) error {
	doc, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	cms := core.ConfigMaps(ns)
	cm, err := cms.Get(ctx, StatusConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: StatusConfigMap, Namespace: ns},
			Data: map[string]string{StatusKey: string(doc)}}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("provider: create status ConfigMap: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("provider: get status ConfigMap: %w", err)
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[StatusKey] = string(doc)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("provider: update status ConfigMap: %w", err)
	}
	return nil
}
