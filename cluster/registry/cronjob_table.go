package registry

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// cjTable prints cron jobs as kubectl v1.32 does.
func cjTable() *Table {
	doc := batchv1.CronJobSpec{}.SwaggerDoc()
	status := batchv1.CronJobStatus{}.SwaggerDoc()
	return &Table{
		Columns: append([]metav1.TableColumnDefinition{
			nameColumn,
			column("Schedule", "string", doc["schedule"], 0),
			column("Timezone", "string", doc["timeZone"], 0),
			column("Suspend", "boolean", doc["suspend"], 0),
			column("Active", "integer", status["active"], 0),
			column("Last Schedule", "string", status["lastScheduleTime"], 0),
			ageColumn,
		}, podTemplateColumns()...),
		Row: func(obj runtime.Object) ([]interface{}, error) { return cjRow(obj.(*batchv1.CronJob)) },
	}
}

// cjRow is one row of `kubectl get cronjobs` (wide columns included), as kubectl's printCronJob.
func cjRow(cj *batchv1.CronJob) ([]interface{}, error) {
	last := "<none>"
	if cj.Status.LastScheduleTime != nil {
		last = translateTimestampSince(*cj.Status.LastScheduleTime)
	}
	tz := "<none>"
	if cj.Spec.TimeZone != nil {
		tz = *cj.Spec.TimeZone
	}
	suspend := "<unset>"
	if cj.Spec.Suspend != nil {
		suspend = "False"
		if *cj.Spec.Suspend {
			suspend = "True"
		}
	}
	tmpl := &cj.Spec.JobTemplate.Spec
	names, images := podContainerCells(tmpl.Template.Spec.Containers)
	selector, err := metav1.LabelSelectorAsSelector(tmpl.Selector)
	if err != nil {
		return nil, fmt.Errorf("cronjob %s selector: %w", cj.Name, err)
	}
	return []interface{}{
		cj.Name, cj.Spec.Schedule, tz, suspend, int64(len(cj.Status.Active)), last,
		translateTimestampSince(cj.CreationTimestamp), names, images, selector.String(),
	}, nil
}
