package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/provider"
	"github.com/drover-ci/drover/cloud/runner"
	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
)

type jenkinsEnv struct {
	t    *testing.T
	kc   string
	kube kubernetes.Interface
}

func newJenkinsEnv(t *testing.T) *jenkinsEnv {
	srv := apiservertest.Start(t)
	kube, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	return &jenkinsEnv{t: t, kc: srv.Kubeconfig, kube: kube}
}

func (e *jenkinsEnv) drover(args ...string) string {
	e.t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append(args, "--kubeconfig", e.kc)
	if err := Run(ctx, args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out}); err != nil {
		e.t.Fatalf("drover %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func (e *jenkinsEnv) exists(get func() error) bool {
	e.t.Helper()
	err := get()
	if err != nil && !apierrors.IsNotFound(err) {
		e.t.Fatal(err)
	}
	return err == nil
}

func (e *jenkinsEnv) objects(ns string) map[string]bool {
	ctx := context.Background()
	c := e.kube.CoreV1()
	get := func(f func() (metav1.Object, error)) func() error { return func() error { _, err := f(); return err } }
	return map[string]bool{
		"sts": e.exists(get(func() (metav1.Object, error) {
			return e.kube.AppsV1().StatefulSets(ns).Get(ctx, "jenkins", metav1.GetOptions{})
		})),
		"svc":    e.exists(get(func() (metav1.Object, error) { return c.Services(ns).Get(ctx, "jenkins", metav1.GetOptions{}) })),
		"init":   e.exists(get(func() (metav1.Object, error) { return c.ConfigMaps(ns).Get(ctx, "jenkins-init", metav1.GetOptions{}) })),
		"secret": e.exists(get(func() (metav1.Object, error) { return c.Secrets(ns).Get(ctx, "jenkins-admin", metav1.GetOptions{}) })),
		"cloud": e.exists(get(func() (metav1.Object, error) {
			return c.ConfigMaps(runner.ConfigNamespace).Get(ctx, runner.ConfigMapName, metav1.GetOptions{})
		})),
		"pv": e.exists(get(func() (metav1.Object, error) {
			return c.PersistentVolumes().Get(ctx, "jenkins-home-"+ns, metav1.GetOptions{})
		})),
	}
}

func TestJenkinsInstallUninstall(t *testing.T) {
	e := newJenkinsEnv(t)
	ctx := context.Background()
	out := e.drover("jenkins", "install", "-n", "ci", "--wait=false", "--liveness-delay", "7", "--agent-label", "docker linux")
	for _, w := range []string{"namespace/ci created", "secret/jenkins-admin created", "statefulset/jenkins created",
		"persistentvolume/jenkins-home-ci created", "configmap/drover-jenkins-cloud created"} {
		if !strings.Contains(out, w) {
			t.Errorf("install output lacks %q:\n%s", w, out)
		}
	}
	for k, ok := range e.objects("ci") {
		if !ok {
			t.Errorf("after install: %s missing", k)
		}
	}
	sec, err := e.kube.CoreV1().Secrets("ci").Get(ctx, "jenkins-admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token, password := string(sec.Data["token"]), string(sec.Data["password"])
	if !regexp.MustCompile(`^11[0-9a-f]{32}$`).MatchString(token) || len(password) < 16 || string(sec.Data["user"]) != "admin" {
		t.Errorf("secret: user %q token %q password %q", sec.Data["user"], token, password)
	}
	if strings.Contains(out, token) || strings.Contains(out, password) {
		t.Errorf("install printed a credential:\n%s", out)
	}
	sts, _ := e.kube.AppsV1().StatefulSets("ci").Get(ctx, "jenkins", metav1.GetOptions{})
	ctr := sts.Spec.Template.Spec.Containers[0]
	if ctr.Image != "jenkins/jenkins:lts-jdk17" || ctr.LivenessProbe.InitialDelaySeconds != 7 {
		t.Errorf("statefulset container: %s, liveness delay %d", ctr.Image, ctr.LivenessProbe.InitialDelaySeconds)
	}
	if vct := sts.Spec.VolumeClaimTemplates; len(vct) != 1 || vct[0].Name != "jenkins-home" || vct[0].Spec.VolumeName != "jenkins-home-ci" {
		t.Errorf("volumeClaimTemplates = %+v", vct)
	}
	if pv, _ := e.kube.CoreV1().PersistentVolumes().Get(ctx, "jenkins-home-ci", metav1.GetOptions{}); pv.Spec.ClaimRef == nil ||
		pv.Spec.ClaimRef.Name != "jenkins-home-jenkins-0" || pv.Spec.ClaimRef.Namespace != "ci" {
		t.Errorf("the volume is not reserved for the StatefulSet's claim: claimRef %+v", pv.Spec.ClaimRef)
	}
	cm, _ := e.kube.CoreV1().ConfigMaps(runner.ConfigNamespace).Get(ctx, runner.ConfigMapName, metav1.GetOptions{})
	cfg, err := config.Load([]byte(cm.Data[runner.ConfigKey]))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "http://jenkins.ci.svc.cluster.local:8080" || cfg.Credentials.Secret != "jenkins-admin" || cfg.Namespace != "ci" ||
		cfg.Templates[0].Label != "docker linux" {
		t.Errorf("cloud config = %s", cm.Data[runner.ConfigKey])
	}
	svc, _ := e.kube.CoreV1().Services("ci").Get(ctx, "jenkins", metav1.GetOptions{})

	// Again: idempotent, the credentials are kept.
	out = e.drover("jenkins", "install", "-n", "ci", "--wait=false", "--liveness-delay", "7", "--agent-label", "docker linux")
	for _, w := range []string{"statefulset/jenkins unchanged", "service/jenkins unchanged", "secret/jenkins-admin unchanged",
		"configmap/drover-jenkins-cloud unchanged", "persistentvolume/jenkins-home-ci unchanged"} {
		if !strings.Contains(out, w) {
			t.Errorf("second install output lacks %q:\n%s", w, out)
		}
	}
	sec2, _ := e.kube.CoreV1().Secrets("ci").Get(ctx, "jenkins-admin", metav1.GetOptions{})
	if string(sec2.Data["token"]) != token || string(sec2.Data["password"]) != password {
		t.Error("a second install changed the credentials")
	}
	svc2, _ := e.kube.CoreV1().Services("ci").Get(ctx, "jenkins", metav1.GetOptions{})
	if svc2.UID != svc.UID {
		t.Error("the Service was replaced")
	}
	sts2, _ := e.kube.AppsV1().StatefulSets("ci").Get(ctx, "jenkins", metav1.GetOptions{})
	if sts2.UID != sts.UID || sts2.Generation != sts.Generation {
		t.Errorf("a second install replaced or changed the StatefulSet (generation %d → %d)", sts.Generation, sts2.Generation)
	}

	// A new image and a given token update in place.
	newToken := "11" + strings.Repeat("ab", 16)
	tf := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tf, []byte(newToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = e.drover("jenkins", "install", "-n", "ci", "--wait=false", "--image", "jenkins/jenkins:2.376", "--admin-token-file", tf)
	if !strings.Contains(out, "statefulset/jenkins configured") || !strings.Contains(out, "secret/jenkins-admin configured") {
		t.Errorf("third install:\n%s", out)
	}
	sts3, _ := e.kube.AppsV1().StatefulSets("ci").Get(ctx, "jenkins", metav1.GetOptions{})
	sec3, _ := e.kube.CoreV1().Secrets("ci").Get(ctx, "jenkins-admin", metav1.GetOptions{})
	if sts3.Spec.Template.Spec.Containers[0].Image != "jenkins/jenkins:2.376" || string(sec3.Data["token"]) != newToken || string(sec3.Data["password"]) != password {
		t.Errorf("after the update: image %s token %q", sts3.Spec.Template.Spec.Containers[0].Image, sec3.Data["token"])
	}
	if sts3.UID != sts.UID || sts3.Generation == sts.Generation {
		t.Errorf("the new image did not update the StatefulSet in place (uid kept %v, generation %d → %d)", sts3.UID == sts.UID, sts.Generation, sts3.Generation)
	}
	// A claim template that cannot change is kept, and install says so.
	out = e.drover("jenkins", "install", "-n", "ci", "--wait=false", "--image", "jenkins/jenkins:2.376", "--admin-token-file", tf, "--storage", "20Gi")
	if !strings.Contains(out, "statefulset/jenkins unchanged (its volumeClaimTemplates stay as they are") {
		t.Errorf("install with another --storage:\n%s", out)
	}

	// Uninstall keeps the claim and the volume.
	out = e.drover("jenkins", "uninstall", "-n", "ci")
	got := e.objects("ci")
	for k, want := range map[string]bool{"sts": false, "svc": false, "init": false, "secret": false, "cloud": false, "pv": true} {
		if got[k] != want {
			t.Errorf("after uninstall: %s exists = %v, want %v\n%s", k, got[k], want, out)
		}
	}
	// --delete-volume removes them too.
	e.drover("jenkins", "install", "-n", "ci", "--wait=false")
	e.drover("jenkins", "uninstall", "-n", "ci", "--delete-volume")
	got = e.objects("ci")
	for k, ok := range got {
		if ok {
			t.Errorf("after uninstall --delete-volume: %s still exists", k)
		}
	}
}

// An Available volume that fits is used: no hostPath volume is made.
func TestJenkinsInstallUsesAvailableVolume(t *testing.T) {
	e := newJenkinsEnv(t)
	ctx := context.Background()
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("20Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/big"}}}}
	pv, err := e.kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pv.Status.Phase = corev1.VolumeAvailable
	if _, err := e.kube.CoreV1().PersistentVolumes().UpdateStatus(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.drover("jenkins", "install", "--wait=false")
	got := e.objects("jenkins")
	if got["pv"] || !got["sts"] {
		t.Errorf("objects = %v, want the StatefulSet and no hostPath volume", got)
	}
	sts, _ := e.kube.AppsV1().StatefulSets("jenkins").Get(ctx, "jenkins", metav1.GetOptions{})
	if v := sts.Spec.VolumeClaimTemplates[0].Spec.VolumeName; v != "" {
		t.Errorf("the claim template names volume %q", v)
	}
}

// --wait prints the rollout's progress until the StatefulSet's pod runs the update revision
// and is Ready (the test plays the StatefulSet controller and the node).
func TestJenkinsInstallWait(t *testing.T) {
	e := newJenkinsEnv(t)
	ctx := context.Background()
	go func() {
		var sts *appsv1.StatefulSet
		for {
			time.Sleep(300 * time.Millisecond)
			s, err := e.kube.AppsV1().StatefulSets("jenkins").Get(ctx, "jenkins", metav1.GetOptions{})
			if err == nil {
				sts = s
				break
			}
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-0", Labels: sts.Spec.Template.Labels},
			Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "jenkins", Image: "jenkins/jenkins:lts-jdk17"}}}}
		p, err := e.kube.CoreV1().Pods("jenkins").Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "jenkins", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
		if p, err = e.kube.CoreV1().Pods("jenkins").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
			return
		}
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 1, UpdatedReplicas: 1,
			CurrentRevision: "jenkins-1", UpdateRevision: "jenkins-1"}
		if sts, err = e.kube.AppsV1().StatefulSets("jenkins").UpdateStatus(ctx, sts, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
			return
		}
		time.Sleep(1500 * time.Millisecond)
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if _, err := e.kube.CoreV1().Pods("jenkins").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
		}
		time.Sleep(1500 * time.Millisecond)
		sts.Status.ReadyReplicas, sts.Status.AvailableReplicas, sts.Status.CurrentReplicas = 1, 1, 1
		if _, err := e.kube.AppsV1().StatefulSets("jenkins").UpdateStatus(ctx, sts, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
		}
	}()
	out := e.drover("jenkins", "install", "--timeout", "30s")
	for _, w := range []string{"pod jenkins-0: Pending (jenkins: ContainerCreating)", "statefulset/jenkins: 0 of 1 pods ready; pod jenkins-0: Running, Ready",
		"statefulset/jenkins rolled out: revision jenkins-1, 1 of 1 pods ready; pod jenkins-0: Running, Ready", "Jenkins is up"} {
		if !strings.Contains(out, w) {
			t.Errorf("install --wait output lacks %q:\n%s", w, out)
		}
	}
}

// Without a StatefulSet, the wait ends after its timeout with an error naming the last progress line.
func TestJenkinsInstallWaitTimeout(t *testing.T) {
	var out bytes.Buffer
	err := waitForRollout(context.Background(), fake.NewClientset(), "jenkins", 1500*time.Millisecond, Streams{Out: &out})
	want := "the Jenkins StatefulSet has not rolled out after 1.5s (last: waiting for statefulset/jenkins to be created)\n" +
		"  fix the cause and run install again: the StatefulSet replaces the pod"
	if err == nil || err.Error() != want {
		t.Errorf("waitForRollout = %v, want %q", err, want)
	}
	if got := strings.Count(out.String(), "waiting for statefulset/jenkins to be created"); got != 1 {
		t.Errorf("progress line printed %d times, want once:\n%s", got, out.String())
	}
}

// client-go's rate limiter refuses a request it could not start before the deadline while the
// context is not yet done ("rate: Wait(n=1) would exceed context deadline"): that is the wait
// ending, not news about Jenkins, and the error keeps the last real progress line.
func TestJenkinsInstallWaitTimeoutIgnoresItsOwnClient(t *testing.T) {
	kube := fake.NewClientset()
	calls := 0
	kube.PrependReactor("get", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		calls++
		if calls > 1 {
			return true, nil, errors.New("client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline")
		}
		return false, nil, nil
	})
	var out bytes.Buffer
	err := waitForRollout(context.Background(), kube, "jenkins", 1500*time.Millisecond, Streams{Out: &out})
	if calls < 2 {
		t.Fatalf("%d polls, want the second one refused", calls)
	}
	want := "(last: waiting for statefulset/jenkins to be created)"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "rate limiter") {
		t.Errorf("waitForRollout = %v, want the last line %q", err, want)
	}
}

// A rollout that does not finish reports what the user needs: the pod's state and last state,
// and the newest Warning event (not an older one, not a Normal one, not another pod's).
func TestJenkinsInstallWaitTimeoutSaysWhy(t *testing.T) {
	one := int32(1)
	now := time.Now()
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "jenkins", Namespace: "jenkins", Generation: 2},
		Spec:   appsv1.StatefulSetSpec{Replicas: &one, UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, CurrentRevision: "jenkins-a", UpdateRevision: "jenkins-b"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-0", Namespace: "jenkins"}, Spec: corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "jenkins",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 20s restarting failed container"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "ContainerCannotRun", ExitCode: 127,
				Message: `exec: "sh": executable file not found in $PATH`}}}}}}
	ev := func(name, obj, typ, reason, msg string, age time.Duration) *corev1.Event {
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "jenkins"}, Type: typ, Reason: reason, Message: msg,
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: obj, Namespace: "jenkins"}, LastTimestamp: metav1.NewTime(now.Add(-age))}
	}
	kube := fake.NewClientset(sts, pod,
		ev("e1", "jenkins-0", corev1.EventTypeWarning, "Failed", "Failed to pull image \"old\"", time.Minute),
		ev("e2", "jenkins-0", corev1.EventTypeWarning, "Failed", `Error: exec: "sh": executable file not found in $PATH`, 10*time.Second),
		ev("e3", "jenkins-0", corev1.EventTypeNormal, "Pulled", "Container image already present", time.Second),
		ev("e4", "other-0", corev1.EventTypeWarning, "Failed", "not this one", 0))
	var out bytes.Buffer
	err := waitForRollout(context.Background(), kube, "jenkins", 1200*time.Millisecond, Streams{Out: &out})
	if err == nil {
		t.Fatal("waitForRollout succeeded")
	}
	for _, w := range []string{
		"has not rolled out after 1.2s (last: statefulset/jenkins: 0 of 1 pods ready; pod jenkins-0: Running (jenkins: CrashLoopBackOff))",
		"pod jenkins-0 container jenkins: waiting (CrashLoopBackOff): back-off 20s restarting failed container",
		`pod jenkins-0 container jenkins last state: terminated (ContainerCannotRun, exit code 127): exec: "sh": executable file not found in $PATH`,
		`newest warning event (pod jenkins-0): Failed: Error: exec: "sh": executable file not found in $PATH`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "not this one") || strings.Contains(err.Error(), "already present") {
		t.Errorf("error names another event:\n%v", err)
	}
}

func TestJenkinsInstallDryRun(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), []string{"jenkins", "install", "--dry-run", "-n", "ci", "--set", "persistence.size=20Gi"},
		Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"# Source: jenkins/templates/statefulset.yaml", "kind: StatefulSet", "storage: 20Gi", "values not shown"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("dry run lacks %q:\n%s", w, out.String())
		}
	}
	if strings.Contains(out.String(), "b64") || strings.Contains(out.String(), "token: ") {
		t.Errorf("dry run shows Secret data:\n%s", out.String())
	}
	// WebSocket agents by default, never with a tunnel; no agent injection.
	cfg := dryRunCloudConfig(t, out.String())
	if tp := cfg.Templates[0]; !tp.WebSocket || tp.AgentInjection || cfg.JenkinsTunnel != "" {
		t.Errorf("default cloud config: tunnel %q, template %+v", cfg.JenkinsTunnel, tp)
	}
}

func TestJenkinsInstallAgentFlags(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), []string{"jenkins", "install", "--dry-run", "-n", "ci", "--agent-injection",
		"--agent-websocket=false", "--agent-image", "maven:3-eclipse-temurin-17"}, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	if err != nil {
		t.Fatal(err)
	}
	cfg := dryRunCloudConfig(t, out.String())
	tp := cfg.Templates[0]
	if !tp.AgentInjection || tp.WebSocket || tp.Image != "maven:3-eclipse-temurin-17" || cfg.JenkinsTunnel != "jenkins.ci.svc.cluster.local:50000" {
		t.Errorf("cloud config: tunnel %q, template %+v", cfg.JenkinsTunnel, tp)
	}
}

// dryRunCloudConfig is the provider configuration in a dry run's ConfigMap drover-jenkins-cloud.
func dryRunCloudConfig(t *testing.T, manifest string) *config.Config {
	t.Helper()
	for _, doc := range strings.Split(manifest, "\n---\n") {
		if !strings.Contains(doc, "name: drover-jenkins-cloud") {
			continue
		}
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal([]byte(doc), &cm); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load([]byte(cm.Data["config.yaml"]))
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	t.Fatalf("no ConfigMap drover-jenkins-cloud in:\n%s", manifest)
	return nil
}

func sampleStatus(now time.Time) provider.Status {
	until := now.Add(40 * time.Second)
	return provider.Status{
		UpdatedAt: now.Add(-3 * time.Second), JenkinsURL: "http://jenkins.ci.svc.cluster.local:8080", Namespace: "ci", ContainerCap: 10,
		Templates: []provider.TemplateStatus{
			{Name: "default", Label: "docker", Mode: "inbound", InstanceCap: 5, MinIdle: 1, Demand: 3, Pending: 1, Starting: 1, Idle: 1, Busy: 2},
			{Name: "broken", Label: "gpu", Mode: "inbound", BackoffUntil: &until, BackoffReason: "ErrImagePull"},
		},
		Agents: []provider.AgentStatus{
			{Name: "default-x1y2z", Template: "default", Pod: "default-x1y2z", State: "busy", Created: now.Add(-2 * time.Minute)},
			{Name: "default-a1b2c", Template: "default", Pod: "default-a1b2c", State: "pending", Created: now.Add(-5 * time.Second)},
		},
		Queue: []provider.QueueStatus{
			{ID: 42, Task: "build-app", Label: "docker", Since: now.Add(-10 * time.Second), Template: "default"},
			{ID: 43, Task: "train", Label: "gpu", Since: now.Add(-90 * time.Second), Template: "broken", Waiting: "template broken backing off: ErrImagePull"},
		},
		Failures: []provider.Failure{{Time: now.Add(-time.Minute), Template: "broken", Agent: "broken-q9w8e", Reason: "ErrImagePull",
			Message: "pull access denied for nvidia/missing"}},
	}
}

func TestJenkinsStatusTables(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	printJenkinsStatus(&b, sampleStatus(now), now)
	out := b.String()
	lines := map[string][]string{
		"Jenkins:":       {"http://jenkins.ci.svc.cluster.local:8080", "connected"},
		"Container cap:": {"10"},
		"default   ":     {"docker", "inbound", "5", "1", "3", "1", "1", "1", "2", "-"},
		"broken":         {"gpu", "none", "40s left: ErrImagePull"},
		"default-x1y2z":  {"default", "busy", "2m"},
		"default-a1b2c":  {"pending", "5s"},
		"42 ":            {"build-app", "docker", "10s", "an agent is coming"},
		"43 ":            {"train", "gpu", "90s", "template broken backing off: ErrImagePull"},
		"60s ":           {"broken-q9w8e", "ErrImagePull", "pull access denied"},
	}
	for prefix, words := range lines {
		found := false
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, prefix) {
				found = true
				for _, w := range words {
					if !strings.Contains(l, w) {
						t.Errorf("line %q lacks %q", l, w)
					}
				}
			}
		}
		if !found {
			t.Errorf("no line starting %q in:\n%s", prefix, out)
		}
	}
	for _, h := range []string{"TEMPLATES", "MIN-IDLE   DEMAND", "BUSY   OFFLINE", "AGENTS", "QUEUE", "ID   TASK", "RECENT FAILURES"} {
		if !strings.Contains(out, h) {
			t.Errorf("no %q in:\n%s", h, out)
		}
	}
	// Requeues, warnings and the agent listener (issue 11).
	st := sampleStatus(now)
	st.Listener = &provider.ListenerStatus{Enabled: true, Port: 50000, Protocols: []string{"Ping"}}
	st.Warnings = []string{"jenkins.templates[1].mode: websocket agents ignore jenkinsTunnel"}
	st.Requeues = []provider.RequeueStatus{{Build: "job/build-app/7/", Template: "default", Agent: "default-k3j4h",
		Reason: "OOMKilled", LostAt: now.Add(-30 * time.Second), Attempt: 1, State: "requeued", Detail: "queue item 44"}}
	b.Reset()
	printJenkinsStatus(&b, st, now)
	for _, want := range []string{
		"Agent listener: port 50000, Ping: no JNLP4-connect (TCP agents cannot connect: install the instance-identity plugin",
		"WARNINGS\n  jenkins.templates[1].mode: websocket agents ignore jenkinsTunnel",
		"BUILDS LOST TO INFRASTRUCTURE",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in:\n%s", want, b.String())
		}
	}
	found := false
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "30s ") && strings.Contains(l, "job/build-app/7/") && strings.Contains(l, "OOMKilled") &&
			strings.Contains(l, "requeued") && strings.Contains(l, "queue item 44") {
			found = true
		}
	}
	if !found {
		t.Errorf("no line for the requeued build in:\n%s", b.String())
	}
	st = sampleStatus(now)
	st.JenkinsError = "jenkins: connect http://10.96.0.12:8080: status 401"
	b.Reset()
	printJenkinsStatus(&b, st, now)
	if !strings.Contains(b.String(), "ERROR: jenkins: connect http://10.96.0.12:8080: status 401") {
		t.Errorf("the Jenkins error is not shown:\n%s", b.String())
	}
}

func TestJenkinsStatusCommand(t *testing.T) {
	e := newJenkinsEnv(t)
	ctx := context.Background()
	out := e.drover("jenkins", "status", "-n", "ci")
	if !strings.Contains(out, "No Jenkins cloud status in namespace ci yet") {
		t.Errorf("without status:\n%s", out)
	}
	if _, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ci"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := provider.WriteStatus(ctx, e.kube.CoreV1(), "ci", sampleStatus(time.Now())); err != nil {
		t.Fatal(err)
	}
	out = e.drover("jenkins", "status", "-n", "ci")
	if !strings.Contains(out, "default-x1y2z") || !strings.Contains(out, "RECENT FAILURES") {
		t.Errorf("status:\n%s", out)
	}
	out = e.drover("jenkins", "status", "-n", "ci", "-o", "json")
	var st provider.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Agents) != 2 || st.Queue[1].ID != 43 {
		t.Errorf("-o json: %v\n%s", err, out)
	}
}
