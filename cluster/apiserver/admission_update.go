package apiserver

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover-ci/drover/cluster/registry"
)

// admitUpdate runs the validating admission of an update of res (sub: "" for the main
// resource, or the subresource) after the update was prepared and validated: Priority (a
// PriorityClass becoming the second global default), PodSecurity, LimitRanger (claims), then ResourceQuota, which charges what the update adds (a Service becoming a NodePort, a claim
// growing). The returned func gives a quota charge back when the write fails.
func (s *Server) admitUpdate(ctx context.Context, res *registry.Resource, sub string, obj, old runtime.Object, dryRun bool) (func(), error) {
	if err := s.validatePriorityClass(ctx, res, sub, obj, false); err != nil {
		return func() {}, err
	}
	if err := s.admitPodSecurityUpdate(ctx, res, sub, obj, old); err != nil {
		return func() {}, err
	}
	if limitRangerApplies(res, sub, obj, true) {
		if err := s.admitLimits(ctx, res, obj); err != nil {
			return func() {}, err
		}
	}
	return s.admitQuota(ctx, res, sub, obj, old, dryRun)
}
