package manager

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/clusterroleaggregation"
	"github.com/drover-ci/drover/cluster/controller/csrsigner"
	"github.com/drover-ci/drover/cluster/controller/daemonset"
	"github.com/drover-ci/drover/cluster/controller/deployment"
	"github.com/drover-ci/drover/cluster/controller/disruption"
	"github.com/drover-ci/drover/cluster/controller/endpoints"
	"github.com/drover-ci/drover/cluster/controller/endpointslice"
	"github.com/drover-ci/drover/cluster/controller/nodeipam"
	"github.com/drover-ci/drover/cluster/controller/nodelifecycle"
	"github.com/drover-ci/drover/cluster/controller/podautoscaler"
	"github.com/drover-ci/drover/cluster/controller/pvbinder"
	"github.com/drover-ci/drover/cluster/controller/replication"
	"github.com/drover-ci/drover/cluster/controller/resourcequota"
	"github.com/drover-ci/drover/cluster/controller/serviceaccount"
	"github.com/drover-ci/drover/cluster/controller/serviceip"
	"github.com/drover-ci/drover/cluster/controller/statefulset"
	"github.com/drover-ci/drover/cluster/controller/tainteviction"
	"github.com/drover-ci/drover/cluster/controller/tokencleaner"
	"github.com/drover-ci/drover/cluster/scheduler"
	"github.com/drover-ci/drover/jobs/cronjob"
	"github.com/drover-ci/drover/jobs/job"
)

// All returns every controller drover has, by name. Each controller package adds itself here.
func All() map[string]controller.Constructor {
	return map[string]controller.Constructor{
		"clusterroleaggregation": controller.Construct(clusterroleaggregation.New),
		"cronjob":                controller.Construct(cronjob.New),
		"csrsigner":              controller.Construct(csrsigner.New),
		"daemonset":              controller.Construct(daemonset.New),
		"deployment":             controller.Construct(deployment.New),
		"disruption":             controller.Construct(disruption.New),
		"endpoints":              controller.Construct(endpoints.New),
		"endpointslice":          controller.Construct(endpointslice.New),
		"endpointslicemirroring": controller.Construct(endpointslice.NewMirroring),
		"job":                    controller.Construct(job.New),
		"nodeipam":               controller.Construct(nodeipam.New),
		"nodelifecycle":          controller.Construct(nodelifecycle.New),
		"podautoscaler":          controller.Construct(podautoscaler.New),
		"pvbinder":               controller.Construct(pvbinder.New),
		"replication":            controller.Construct(replication.New),
		"replicaset":             controller.Construct(replication.NewReplicaSet),
		"resourcequota":          controller.Construct(resourcequota.New),
		"scheduler":              controller.Construct(scheduler.NewController),
		"serviceaccount":         controller.Construct(serviceaccount.New),
		"serviceip":              controller.Construct(serviceip.New),
		"statefulset":            controller.Construct(statefulset.New),
		"tainteviction":          controller.Construct(tainteviction.New),
		"tokencleaner":           controller.Construct(tokencleaner.New),
	}
}

func metav1ObjectMeta(name, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns}
}
