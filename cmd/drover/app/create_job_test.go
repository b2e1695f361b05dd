package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

const nightlyCronJob = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  labels: {team: ci}
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    metadata:
      labels: {app: backup}
      annotations: {note: from-template}
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: tar
            image: busybox:1.36
            command: ["sh", "-c", "echo hi"]
`

func runDrover(t *testing.T, kubeconfig, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--kubeconfig", kubeconfig)
	err := Run(t.Context(), args, Streams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut})
	return out.String(), err
}

// create job --from=cronjob/NAME makes a Job from the template, as kubectl does.
func TestCreateJobFromCronJob(t *testing.T) {
	srv := apiservertest.Start(t)
	if _, err := runDrover(t, srv.Kubeconfig, nightlyCronJob, "create", "-f", "-"); err != nil {
		t.Fatalf("create cronjob: %v", err)
	}
	out, err := runDrover(t, srv.Kubeconfig, "", "create", "job", "backup-now", "--from=cronjob/nightly")
	if err != nil {
		t.Fatalf("create job: %v", err)
	}
	if out != "job.batch/backup-now created\n" {
		t.Errorf("output %q", out)
	}
	cs := kubernetes.NewForConfigOrDie(srv.Config)
	cj, err := cs.BatchV1().CronJobs("default").Get(t.Context(), "nightly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job, err := cs.BatchV1().Jobs("default").Get(t.Context(), "backup-now", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	controller := true
	wantRefs := []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "nightly", UID: cj.UID, Controller: &controller}}
	if diff := cmp.Diff(wantRefs, job.OwnerReferences); diff != "" {
		t.Errorf("owner references (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"app": "backup"}, job.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if got := job.Annotations[instantiateAnnotation]; got != "manual" {
		t.Errorf("%s = %q, want manual", instantiateAnnotation, got)
	}
	if got := job.Annotations["note"]; got != "from-template" {
		t.Errorf("template annotation note = %q", got)
	}
	c := job.Spec.Template.Spec.Containers
	if len(c) != 1 || c[0].Image != "busybox:1.36" || job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("pod template not copied: %+v", job.Spec.Template.Spec)
	}
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 2 {
		t.Errorf("backoffLimit %v, want 2", job.Spec.BackoffLimit)
	}
	if _, err := runDrover(t, srv.Kubeconfig, "", "create", "job", "backup-now", "--from=cronjob/nightly"); err == nil {
		t.Error("a second Job of the same name was created")
	}
}

// A bad or missing --from is refused before any request, naming the flag; an unknown CronJob
// is an error naming it.
func TestCreateJobFromErrors(t *testing.T) {
	api := newFakeAPI(t)
	kc := writeKubeconfig(t, api.URL)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "job", "x"}, "--from is required"},
		{[]string{"create", "job", "x", "--from=deployment/web"}, `--from="deployment/web": can only create a Job from a cronjob`},
		{[]string{"create", "job", "x", "--from=nightly"}, `--from="nightly": want cronjob/NAME`},
		{[]string{"create", "job", "x", "--from=cronjob/"}, `--from="cronjob/": want cronjob/NAME`},
		{[]string{"create", "job", "x", "--from=cronjob/missing"}, "--from=cronjob/missing: "},
		{[]string{"create", "job", "--from=cronjob/nightly"}, "accepts 1 arg"},
	} {
		_, err := runDrover(t, kc, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to contain %q", tc.args, err, tc.want)
		}
	}
	want := []string{"GET /apis/batch/v1/namespaces/team/cronjobs/missing"}
	if diff := cmp.Diff(want, api.recorded()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestParseFromCronJobAliases(t *testing.T) {
	for _, from := range []string{"cronjob/a", "cronjobs/a", "cj/a", "CronJob/a", "cronjob.batch/a"} {
		if name, err := parseFromCronJob(from); err != nil || name != "a" {
			t.Errorf("%s: %q %v", from, name, err)
		}
	}
}
