package runner

import (
	"context"
	"time"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/provider"
)

// writeError records why the provider is not running in its status ConfigMap (as the
// provider's Status with JenkinsError set), so `drover jenkins status` shows it.
func (r *Runner) writeError(ctx context.Context, cfg *config.Config, cause error) {
	ns := cfg.ProviderNamespace()
	st := provider.Status{UpdatedAt: time.Now().UTC(), JenkinsURL: cfg.URL, JenkinsError: cause.Error(),
		Namespace: ns, ContainerCap: cfg.ContainerCap}
	for _, t := range cfg.Templates {
		st.Templates = append(st.Templates, provider.TemplateStatus{Name: t.Name, Label: t.Label, Mode: t.Mode,
			InstanceCap: t.InstanceCap, MinIdle: t.MinIdle})
	}
	if err := provider.WriteStatus(ctx, r.client.CoreV1(), ns, st); err != nil {
		r.log.Warn("jenkins cloud: writing status", "namespace", ns, "err", err)
	}
}
