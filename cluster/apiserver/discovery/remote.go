package discovery

import (
	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"

	"github.com/drover-ci/drover/cluster/registry"
)

// Remote is a group version an extension API server serves (an APIService with a Service):
// its priorities, and what its server's discovery said of it.
type Remote struct {
	Group, Version string
	Priority       registry.APIServicePriority
	// Resources are the group version's resources as the extension server listed them (its
	// aggregated discovery, or its legacy /apis/{group}/{version} converted); Fresh says
	// whether they were read at the last attempt (false: stale, or never read).
	Resources []apidiscoveryv2.APIResourceDiscovery
	Fresh     bool
}

// discovery is the version's entry in aggregated discovery, as kube-aggregator's discovery
// manager makes it: a version whose discovery could not be read is listed without resources,
// Stale.
func (r *Remote) discovery() apidiscoveryv2.APIVersionDiscovery {
	d := apidiscoveryv2.APIVersionDiscovery{Version: r.Version, Resources: r.Resources,
		Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
	if !r.Fresh {
		d.Freshness = apidiscoveryv2.DiscoveryFreshnessStale
	}
	return d
}
