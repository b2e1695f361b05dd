package discovery

import (
	goruntime "runtime"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"

	"github.com/drover-ci/drover/cluster/registry"
)

// testVersion is a /version answer like the API server's.
func testVersion() version.Info {
	return version.Info{Major: "1", Minor: "32", GitVersion: "v1.32.0-drover", GitCommit: "0123abc",
		BuildDate: "1970-01-01T00:00:00Z", GoVersion: goruntime.Version(), Compiler: goruntime.Compiler,
		Platform: goruntime.GOOS + "/" + goruntime.GOARCH}
}

// testResources builds resource descriptors like the ones registry.Resources returns, with
// only what discovery reads.
func testResources() []*registry.Resource {
	core := func(res, kind string, ns bool, newObj, newList func() runtime.Object, subs ...string) *registry.Resource {
		return &registry.Resource{Version: "v1", Resource: res, Kind: kind, ListKind: kind + "List",
			Namespaced: ns, New: newObj, NewList: newList, Subresources: subs}
	}
	pods := core("pods", "Pod", true, func() runtime.Object { return &corev1.Pod{} }, func() runtime.Object { return &corev1.PodList{} }, "status", "binding", "log")
	pods.ShortNames, pods.Categories, pods.SingularName = []string{"po"}, []string{"all"}, "pod"
	rcs := core("replicationcontrollers", "ReplicationController", true, func() runtime.Object { return &corev1.ReplicationController{} },
		func() runtime.Object { return &corev1.ReplicationControllerList{} }, "scale", "status")
	rcs.ShortNames, rcs.Categories = []string{"rc"}, []string{"all"}
	cms := core("configmaps", "ConfigMap", true, func() runtime.Object { return &corev1.ConfigMap{} }, func() runtime.Object { return &corev1.ConfigMapList{} })
	cms.ShortNames = []string{"cm"}
	nss := core("namespaces", "Namespace", false, func() runtime.Object { return &corev1.Namespace{} }, func() runtime.Object { return &corev1.NamespaceList{} }, "status", "finalize")
	nss.ShortNames = []string{"ns"}
	svcs := core("services", "Service", true, func() runtime.Object { return &corev1.Service{} }, func() runtime.Object { return &corev1.ServiceList{} }, "status")
	svcs.ShortNames, svcs.Categories = []string{"svc"}, []string{"all"}
	nodes := core("nodes", "Node", false, func() runtime.Object { return &corev1.Node{} }, func() runtime.Object { return &corev1.NodeList{} }, "status")
	nodes.ShortNames = []string{"no"}
	jobs := &registry.Resource{Group: "batch", Version: "v1", Resource: "jobs", Kind: "Job", ListKind: "JobList", Namespaced: true,
		Subresources: []string{"status"}, Categories: []string{"all"},
		New: func() runtime.Object { return &batchv1.Job{} }, NewList: func() runtime.Object { return &batchv1.JobList{} }}
	cronjobs := &registry.Resource{Group: "batch", Version: "v1", Resource: "cronjobs", Kind: "CronJob", ListKind: "CronJobList", Namespaced: true,
		Subresources: []string{"status"}, ShortNames: []string{"cj"}, Categories: []string{"all"},
		New: func() runtime.Object { return &batchv1.CronJob{} }, NewList: func() runtime.Object { return &batchv1.CronJobList{} }}
	leases := &registry.Resource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases", Kind: "Lease", ListKind: "LeaseList", Namespaced: true,
		New: func() runtime.Object { return &coordinationv1.Lease{} }, NewList: func() runtime.Object { return &coordinationv1.LeaseList{} }}
	return []*registry.Resource{cms, nss, nodes, pods, rcs, svcs, cronjobs, jobs, leases}
}
