package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// instantiateAnnotation marks a Job created by hand from a CronJob, as kubectl does.
const instantiateAnnotation = "cronjob.kubernetes.io/instantiate"

func newCreateJobCommand(s Streams, cf *clientFlags) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "job NAME --from=cronjob/CRONJOB",
		Short: "Create a Job from a CronJob's job template (a manual run)",
		Example: `  drover create job backup-now --from=cronjob/jenkins-home-backup
  drover create job backup-now --from=cronjob/jenkins-home-backup -n jenkins`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cronJob, err := parseFromCronJob(from)
			if err != nil {
				return err
			}
			c, err := cf.connect()
			if err != nil {
				return err
			}
			return createJobFromCronJob(cmd.Context(), c, s, args[0], cronJob)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the resource to create the Job from: cronjob/NAME")
	return cmd
}

// parseFromCronJob checks a --from value and returns the CronJob name in it.
func parseFromCronJob(from string) (string, error) {
	if from == "" {
		return "", fmt.Errorf("--from is required: drover create job NAME --from=cronjob/CRONJOB")
	}
	kind, name, ok := strings.Cut(from, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("--from=%q: want cronjob/NAME", from)
	}
	switch strings.ToLower(kind) {
	case "cronjob", "cronjobs", "cj", "cronjob.batch", "cronjobs.batch":
		return name, nil
	}
	return "", fmt.Errorf("--from=%q: can only create a Job from a cronjob, not %q", from, kind)
}

// createJobFromCronJob reads the CronJob and creates Job name from its job template.
func createJobFromCronJob(ctx context.Context, c *clients, s Streams, name, cronJob string) error {
	cj, err := c.typed.BatchV1().CronJobs(c.namespace).Get(ctx, cronJob, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("--from=cronjob/%s: %w", cronJob, err)
	}
	created, err := c.typed.BatchV1().Jobs(c.namespace).Create(ctx, jobFromCronJob(cj, name), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating job %s: %w", name, err)
	}
	fmt.Fprintf(s.Out, "job.batch/%s created\n", created.Name)
	return nil
}

// jobFromCronJob builds the Job kubectl's "create job --from=cronjob/..." builds: the template's
// labels, annotations and spec, the instantiate=manual annotation and a controller reference
// to the CronJob (without blockOwnerDeletion, as kubectl).
func jobFromCronJob(cj *batchv1.CronJob, name string) *batchv1.Job {
	tmpl := cj.Spec.JobTemplate
	annotations := map[string]string{instantiateAnnotation: "manual"}
	for k, v := range tmpl.Annotations {
		annotations[k] = v
	}
	var labels map[string]string
	if len(tmpl.Labels) > 0 {
		labels = make(map[string]string, len(tmpl.Labels))
		for k, v := range tmpl.Labels {
			labels[k] = v
		}
	}
	controller := true
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: batchv1.SchemeGroupVersion.String(), Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   cj.Namespace,
			Labels:      labels,
			Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: batchv1.SchemeGroupVersion.String(),
				Kind:       "CronJob",
				Name:       cj.Name,
				UID:        cj.UID,
				Controller: &controller,
			}},
		},
		Spec: *tmpl.Spec.DeepCopy(),
	}
}
