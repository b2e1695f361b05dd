// Package jobs_test checks the Job and CronJob examples: the manifests applied with the real
// kubectl against a real drover API server, and (docker_test.go) Jobs run by `drover up` on
// real Docker.
package jobs_test

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cmd/drover/app"

	"github.com/drover-ci/drover/internal/uptest"
)

// kubectl runs the real kubectl against a test API server.
type kubectl struct {
	t          *testing.T
	kubeconfig string
}

func newKubectl(t *testing.T) *kubectl {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		uptest.RequireE2E(t, "kubectl not found on PATH")
	}
	return &kubectl{t: t, kubeconfig: apiservertest.Start(t).Kubeconfig}
}

func (k *kubectl) must(args ...string) string {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(k.t.Context(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", k.kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// drover runs the drover command line against the same server.
func (k *kubectl) drover(args ...string) (string, error) {
	var out strings.Builder
	err := app.Run(k.t.Context(), append(args, "--kubeconfig", k.kubeconfig),
		app.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	return out.String(), err
}

// header matches a table header with exactly these columns, in order.
func header(cols ...string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + strings.Join(cols, `\s+`) + `\s*$`)
}

func TestExamplesWithKubectl(t *testing.T) {
	k := newKubectl(t)
	out := k.must("apply", "-f", ".")
	for _, want := range []string{
		"persistentvolume/jenkins-home created", "persistentvolume/jenkins-backup created",
		"persistentvolume/jenkins-workspace-cache created", "persistentvolumeclaim/jenkins-home created",
		"persistentvolumeclaim/jenkins-backup created", "persistentvolumeclaim/jenkins-workspace-cache created",
		"cronjob.batch/jenkins-home-backup created", "job.batch/workspace-cache-prune created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	if out := k.must("apply", "-f", "."); strings.Contains(out, "created") || strings.Contains(out, "configured") {
		t.Errorf("second apply changed something:\n%s", out)
	}

	out = k.must("get", "jobs,cronjobs")
	for _, re := range []*regexp.Regexp{
		header("NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"),
		header("NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"),
		regexp.MustCompile(`(?m)^job\.batch/workspace-cache-prune\s+\S+\s+0/1\s`),
		regexp.MustCompile(`(?m)^cronjob\.batch/jenkins-home-backup\s+0 2 \* \* \*\s+<none>\s+False\s+0\s+<none>\s`),
	} {
		if !re.MatchString(out) {
			t.Errorf("get jobs,cronjobs does not match %s:\n%s", re, out)
		}
	}
	spec := k.must("get", "cronjob", "jenkins-home-backup", "-o",
		"jsonpath={.spec.concurrencyPolicy} {.spec.successfulJobsHistoryLimit} {.spec.jobTemplate.spec.template.spec.volumes[*].persistentVolumeClaim.claimName}")
	if want := "Forbid 3 jenkins-home jenkins-backup"; spec != want {
		t.Errorf("cronjob spec %q, want %q", spec, want)
	}

	// The README's manual run, with drover and with kubectl.
	if out, err := k.drover("create", "job", "backup-now", "--from=cronjob/jenkins-home-backup"); err != nil || out != "job.batch/backup-now created\n" {
		t.Fatalf("drover create job --from: %v\n%s", err, out)
	}
	k.must("create", "job", "backup-kubectl", "--from=cronjob/jenkins-home-backup")
	for _, name := range []string{"backup-now", "backup-kubectl"} {
		got := k.must("get", "job", name, "-o",
			`jsonpath={.metadata.annotations.cronjob\.kubernetes\.io/instantiate} {.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.spec.template.spec.containers[0].image}`)
		if want := "manual CronJob/jenkins-home-backup busybox:1.36"; got != want {
			t.Errorf("job %s: %q, want %q", name, got, want)
		}
	}

	// kubectl's own generators.
	if out := k.must("create", "job", "x", "--image=busybox:1.36"); !strings.Contains(out, "job.batch/x created") {
		t.Errorf("create job: %s", out)
	}
	if out := k.must("create", "cronjob", "y", "--image=busybox:1.36", "--schedule=*/1 * * * *"); !strings.Contains(out, "cronjob.batch/y created") {
		t.Errorf("create cronjob: %s", out)
	}
	out = k.must("get", "cronjob", "y")
	if !regexp.MustCompile(`(?m)^y\s+\*/1 \* \* \* \*\s+<none>\s+False\s+0\s+<none>\s`).MatchString(out) {
		t.Errorf("get cronjob y:\n%s", out)
	}
	out = k.must("get", "jobs")
	for _, name := range []string{"x", "backup-now", "backup-kubectl", "workspace-cache-prune"} {
		if !regexp.MustCompile(`(?m)^` + name + `\s`).MatchString(out) {
			t.Errorf("get jobs lacks %s:\n%s", name, out)
		}
	}
}
