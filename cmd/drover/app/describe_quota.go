package app

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// quotaScopeHelp is kubectl's help text for each quota scope.
var quotaScopeHelp = map[corev1.ResourceQuotaScope]string{
	corev1.ResourceQuotaScopeTerminating:    "Matches all pods that have an active deadline. These pods have a limited lifespan on a node before being actively terminated by the system.",
	corev1.ResourceQuotaScopeNotTerminating: "Matches all pods that do not have an active deadline. These pods usually include long running pods whose container command is not expected to terminate.",
	corev1.ResourceQuotaScopeBestEffort:     "Matches all pods that do not have resource requirements set. These pods have a best effort quality of service.",
	corev1.ResourceQuotaScopeNotBestEffort:  "Matches all pods that have at least one resource requirement set. These pods have a burstable or guaranteed quality of service.",
}

// describeQuota writes a ResourceQuota as kubectl describe does: scopes, then used against
// hard for each resource of status.hard.
func describeQuota(w *descWriter, q *corev1.ResourceQuota) {
	fmt.Fprintf(w.w, "Name:\t%s\n", q.Name)
	fmt.Fprintf(w.w, "Namespace:\t%s\n", q.Namespace)
	if len(q.Spec.Scopes) > 0 {
		scopes := make([]string, 0, len(q.Spec.Scopes))
		for _, s := range q.Spec.Scopes {
			scopes = append(scopes, string(s))
		}
		sort.Strings(scopes)
		fmt.Fprintf(w.w, "Scopes:\t%s\n", strings.Join(scopes, ", "))
		for _, s := range scopes {
			if help := quotaScopeHelp[corev1.ResourceQuotaScope(s)]; help != "" {
				fmt.Fprintf(w.w, " * %s\n", help)
			}
		}
	}
	fmt.Fprintf(w.w, "Resource\tUsed\tHard\n")
	fmt.Fprintf(w.w, "--------\t----\t----\n")
	names := make([]string, 0, len(q.Status.Hard))
	for n := range q.Status.Hard {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		hard, used := q.Status.Hard[corev1.ResourceName(n)], q.Status.Used[corev1.ResourceName(n)]
		if hard.Format != used.Format {
			used = *resource.NewQuantity(used.Value(), hard.Format)
		}
		fmt.Fprintf(w.w, "%s\t%s\t%s\n", n, used.String(), hard.String())
	}
}

// describeLimitRange writes a LimitRange as kubectl describe does: one row per limit type and
// resource, "-" for what the limit does not set.
func describeLimitRange(w *descWriter, lr *corev1.LimitRange) {
	fmt.Fprintf(w.w, "Name:\t%s\n", lr.Name)
	fmt.Fprintf(w.w, "Namespace:\t%s\n", lr.Namespace)
	fmt.Fprintf(w.w, "Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n")
	fmt.Fprintf(w.w, "----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n")
	for _, item := range lr.Spec.Limits {
		names := map[string]bool{}
		for _, l := range []corev1.ResourceList{item.Max, item.Min, item.Default, item.DefaultRequest, item.MaxLimitRequestRatio} {
			for n := range l {
				names[string(n)] = true
			}
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		cell := func(l corev1.ResourceList, n string) string {
			if q, ok := l[corev1.ResourceName(n)]; ok {
				return q.String()
			}
			return "-"
		}
		for _, n := range sorted {
			fmt.Fprintf(w.w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", item.Type, n, cell(item.Min, n), cell(item.Max, n),
				cell(item.DefaultRequest, n), cell(item.Default, n), cell(item.MaxLimitRequestRatio, n))
		}
	}
}
