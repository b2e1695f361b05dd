package apiserver_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// appsBody is a valid object of kind (apps/v1 workloads, policy/v1 PDB, autoscaling/v2 HPA)
// named name, with edit applied to its JSON text (old → new replacements).
func appsBody(apiVersion, kind, name, spec string, edits ...string) []byte {
	s := fmt.Sprintf(`{"apiVersion":%q,"kind":%q,"metadata":{"name":%q},"spec":%s}`, apiVersion, kind, name, spec)
	for i := 0; i+1 < len(edits); i += 2 {
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	return []byte(s)
}

const (
	appsTemplate = `{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}`
	appsSelector = `{"matchLabels":{"app":"web"}}`
)

var appsSpecs = map[string]string{
	"Deployment":  `{"replicas":2,"selector":` + appsSelector + `,"template":` + appsTemplate + `}`,
	"ReplicaSet":  `{"replicas":2,"selector":` + appsSelector + `,"template":` + appsTemplate + `}`,
	"StatefulSet": `{"replicas":2,"serviceName":"web","selector":` + appsSelector + `,"template":` + appsTemplate + `}`,
	"DaemonSet":   `{"selector":` + appsSelector + `,"template":` + appsTemplate + `}`,
}

func TestAppsInvalidSpecsAre422WithFieldPathAndStoreNothing(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	const apps = "/apis/apps/v1/namespaces/default/"
	cases := []struct {
		name, path string
		body       []byte
		cause      string
	}{
		{"deployment selector not matching", apps + "deployments",
			appsBody("apps/v1", "Deployment", "d1", appsSpecs["Deployment"], `"app":"web"}}`, `"app":"db"}}`), "spec.template.metadata.labels"},
		{"deployment negative replicas", apps + "deployments",
			appsBody("apps/v1", "Deployment", "d2", appsSpecs["Deployment"], `"replicas":2`, `"replicas":-1`), "spec.replicas"},
		{"deployment maxSurge and maxUnavailable 0", apps + "deployments",
			appsBody("apps/v1", "Deployment", "d3", appsSpecs["Deployment"], `"replicas":2`,
				`"replicas":2,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":0,"maxUnavailable":"0%"}}`),
			"spec.strategy.rollingUpdate.maxUnavailable"},
		{"deployment no selector", apps + "deployments",
			appsBody("apps/v1", "Deployment", "d4", appsSpecs["Deployment"], `"selector":`+appsSelector+`,`, ``), "spec.selector"},
		{"deployment restartPolicy Never", apps + "deployments",
			appsBody("apps/v1", "Deployment", "d5", appsSpecs["Deployment"], `"containers"`, `"restartPolicy":"Never","containers"`),
			"spec.template.spec.restartPolicy"},
		{"replicaset selector not matching", apps + "replicasets",
			appsBody("apps/v1", "ReplicaSet", "r1", appsSpecs["ReplicaSet"], `"app":"web"}}`, `"app":"db"}}`), "spec.template.metadata.labels"},
		{"replicaset negative replicas", apps + "replicasets",
			appsBody("apps/v1", "ReplicaSet", "r2", appsSpecs["ReplicaSet"], `"replicas":2`, `"replicas":-3`), "spec.replicas"},
		{"statefulset negative replicas", apps + "statefulsets",
			appsBody("apps/v1", "StatefulSet", "s1", appsSpecs["StatefulSet"], `"replicas":2`, `"replicas":-1`), "spec.replicas"},
		{"statefulset empty selector", apps + "statefulsets",
			appsBody("apps/v1", "StatefulSet", "s2", appsSpecs["StatefulSet"], appsSelector, `{}`), "spec.selector"},
		{"statefulset name not a DNS label", apps + "statefulsets",
			appsBody("apps/v1", "StatefulSet", "db.one", appsSpecs["StatefulSet"]), "metadata.name"},
		{"daemonset selector not matching", apps + "daemonsets",
			appsBody("apps/v1", "DaemonSet", "ds1", appsSpecs["DaemonSet"], `"app":"web"}}`, `"app":"db"}}`), "spec.template.metadata.labels"},
		{"daemonset surge and unavailable", apps + "daemonsets",
			appsBody("apps/v1", "DaemonSet", "ds2", appsSpecs["DaemonSet"], `"selector"`,
				`"updateStrategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":1}},"selector"`), "spec.updateStrategy.rollingUpdate.maxSurge"},
		{"pdb min and max", "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
			appsBody("policy/v1", "PodDisruptionBudget", "p1", `{"minAvailable":1,"maxUnavailable":1,"selector":`+appsSelector+`}`), "spec"},
		{"pdb over 100%", "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
			appsBody("policy/v1", "PodDisruptionBudget", "p2", `{"minAvailable":"150%","selector":`+appsSelector+`}`), "spec.minAvailable"},
		{"hpa max below min", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
			appsBody("autoscaling/v2", "HorizontalPodAutoscaler", "h1",
				`{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},"minReplicas":3,"maxReplicas":2}`), "spec.maxReplicas"},
		{"hpa bad utilisation", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
			appsBody("autoscaling/v2", "HorizontalPodAutoscaler", "h2",
				`{"scaleTargetRef":{"kind":"Deployment","name":"web"},"maxReplicas":2,"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":0}}}]}`),
			"spec.metrics[0].resource.target.averageUtilization"},
	}
	for _, c := range cases {
		r := doRaw(t, srv, http.MethodPost, c.path, "application/json", c.body)
		if r.code != http.StatusUnprocessableEntity {
			t.Errorf("%s: code %d, want 422: %s", c.name, r.code, r.body)
			continue
		}
		st := r.status(t)
		if !hasCause(st, c.cause) || !strings.Contains(st.Message, c.cause) {
			t.Errorf("%s: Status does not name %s: %s", c.name, c.cause, r.body)
		}
	}
	deps, _ := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	rss, _ := cs.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	stss, _ := cs.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	dss, _ := cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	pdbs, _ := cs.PolicyV1().PodDisruptionBudgets("").List(ctx, metav1.ListOptions{})
	hpas, _ := cs.AutoscalingV2().HorizontalPodAutoscalers("").List(ctx, metav1.ListOptions{})
	if n := len(deps.Items) + len(rss.Items) + len(stss.Items) + len(dss.Items) + len(pdbs.Items) + len(hpas.Items); n != 0 {
		t.Errorf("invalid specs stored %d objects", n)
	}
}

func TestAppsUpdatesKeepSelectorAndBumpGeneration(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	for kind, spec := range appsSpecs {
		path := "/apis/apps/v1/namespaces/default/" + strings.ToLower(kind) + "s"
		if r := doRaw(t, srv, http.MethodPost, path, "application/json", appsBody("apps/v1", kind, "web", spec)); r.code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", kind, r.code, r.body)
		}
		// Changing the selector (and the labels with it) is refused, whatever else is valid;
		// for a StatefulSet it is one of the fields no update may change.
		cause := "spec.selector"
		if kind == "StatefulSet" {
			cause = "spec"
		}
		patch := `{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}`
		r := doRaw(t, srv, http.MethodPatch, path+"/web", string(types.MergePatchType), []byte(patch))
		if r.code != http.StatusUnprocessableEntity || !hasCause(r.status(t), cause) {
			t.Errorf("%s selector change: %d %s", kind, r.code, r.body)
		}
	}
	d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if d.Generation != 1 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil ||
		*ru.MaxSurge != intstr.FromString("25%") || *ru.MaxUnavailable != intstr.FromString("25%") ||
		*d.Spec.RevisionHistoryLimit != 10 || *d.Spec.ProgressDeadlineSeconds != 600 ||
		d.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("deployment defaults: generation %d, spec %+v", d.Generation, d.Spec)
	}
	d.Spec.Template.Spec.Containers[0].Image = "busybox:1.37"
	if d, err = cs.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil || d.Generation != 2 {
		t.Fatalf("template update: generation %d, %v", d.Generation, err)
	}
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "x"}
	if d, err = cs.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{}); err != nil || d.Generation != 3 {
		t.Fatalf("annotation update: generation %d, %v", d.Generation, err)
	}
	d.Status.Replicas, d.Status.ObservedGeneration = 2, 3
	if d, err = cs.AppsV1().Deployments("default").UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil || d.Generation != 3 || d.Status.Replicas != 2 {
		t.Fatalf("status update: generation %d status %+v, %v", d.Generation, d.Status, err)
	}

	// StatefulSets: only the listed fields may change.
	s, err := cs.AppsV1().StatefulSets("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Spec.PodManagementPolicy != appsv1.OrderedReadyPodManagement || *s.Spec.UpdateStrategy.RollingUpdate.Partition != 0 ||
		s.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("statefulset defaults: %+v", s.Spec)
	}
	s.Spec.ServiceName = "other"
	_, err = cs.AppsV1().StatefulSets("default").Update(ctx, s, metav1.UpdateOptions{})
	if se := wantStatus(t, "statefulset serviceName change", err, 422); !strings.Contains(se.ErrStatus.Message,
		"updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy'") {
		t.Errorf("statefulset forbidden update: %s", se.ErrStatus.Message)
	}
}

func TestScaleSubresourceServesEveryScalableKind(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	rc := `{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"web"},"spec":{"replicas":2,"selector":{"app":"web"},"template":` + appsTemplate + `}}`
	if r := doRaw(t, srv, http.MethodPost, "/api/v1/namespaces/default/replicationcontrollers", "application/json", []byte(rc)); r.code != http.StatusCreated {
		t.Fatalf("create rc: %d %s", r.code, r.body)
	}
	for _, kind := range []string{"Deployment", "ReplicaSet", "StatefulSet"} {
		path := "/apis/apps/v1/namespaces/default/" + strings.ToLower(kind) + "s"
		if r := doRaw(t, srv, http.MethodPost, path, "application/json", appsBody("apps/v1", kind, "web", appsSpecs[kind])); r.code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", kind, r.code, r.body)
		}
	}
	checks := []struct {
		kind  string
		get   func() (*autoscalingv1.Scale, error)
		set   func(*autoscalingv1.Scale) (*autoscalingv1.Scale, error)
		after func() (int32, int64)
	}{
		{"ReplicationController",
			func() (*autoscalingv1.Scale, error) {
				return cs.CoreV1().ReplicationControllers("default").GetScale(ctx, "web", metav1.GetOptions{})
			},
			func(sc *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
				return cs.CoreV1().ReplicationControllers("default").UpdateScale(ctx, "web", sc, metav1.UpdateOptions{})
			},
			func() (int32, int64) {
				o, _ := cs.CoreV1().ReplicationControllers("default").Get(ctx, "web", metav1.GetOptions{})
				return *o.Spec.Replicas, o.Generation
			}},
		{"Deployment",
			func() (*autoscalingv1.Scale, error) {
				return cs.AppsV1().Deployments("default").GetScale(ctx, "web", metav1.GetOptions{})
			},
			func(sc *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
				return cs.AppsV1().Deployments("default").UpdateScale(ctx, "web", sc, metav1.UpdateOptions{})
			},
			func() (int32, int64) {
				o, _ := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
				return *o.Spec.Replicas, o.Generation
			}},
		{"ReplicaSet",
			func() (*autoscalingv1.Scale, error) {
				return cs.AppsV1().ReplicaSets("default").GetScale(ctx, "web", metav1.GetOptions{})
			},
			func(sc *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
				return cs.AppsV1().ReplicaSets("default").UpdateScale(ctx, "web", sc, metav1.UpdateOptions{})
			},
			func() (int32, int64) {
				o, _ := cs.AppsV1().ReplicaSets("default").Get(ctx, "web", metav1.GetOptions{})
				return *o.Spec.Replicas, o.Generation
			}},
		{"StatefulSet",
			func() (*autoscalingv1.Scale, error) {
				return cs.AppsV1().StatefulSets("default").GetScale(ctx, "web", metav1.GetOptions{})
			},
			func(sc *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
				return cs.AppsV1().StatefulSets("default").UpdateScale(ctx, "web", sc, metav1.UpdateOptions{})
			},
			func() (int32, int64) {
				o, _ := cs.AppsV1().StatefulSets("default").Get(ctx, "web", metav1.GetOptions{})
				return *o.Spec.Replicas, o.Generation
			}},
	}
	for _, c := range checks {
		sc, err := c.get()
		if err != nil {
			t.Fatalf("%s: get scale: %v", c.kind, err)
		}
		if sc.Spec.Replicas != 2 || sc.Status.Selector != "app=web" {
			t.Errorf("%s: scale %+v", c.kind, sc)
		}
		sc.Spec.Replicas = 5
		if sc, err = c.set(sc); err != nil || sc.Spec.Replicas != 5 {
			t.Fatalf("%s: update scale: %+v, %v", c.kind, sc, err)
		}
		if n, gen := c.after(); n != 5 || gen != 2 {
			t.Errorf("%s: after scale: replicas %d generation %d", c.kind, n, gen)
		}
		sc.Spec.Replicas, sc.ResourceVersion = -1, ""
		_, err = c.set(sc)
		wantStatus(t, c.kind+" negative scale", err, 422)
	}
}

// An autoscaler is one object served in autoscaling/v1 and v2: written through either, read
// and watched through either, and an update through v1 keeps what only v2 can say.
func TestHPAServedInTwoVersions(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	v1c, v2c := cs.AutoscalingV1().HorizontalPodAutoscalers("default"), cs.AutoscalingV2().HorizontalPodAutoscalers("default")
	w, err := v1c.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	seventy := int32(70)
	h1, err := v1c.Create(ctx, &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{MaxReplicas: 4, TargetCPUUtilizationPercentage: &seventy,
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *h1.Spec.MinReplicas != 1 {
		t.Errorf("v1 minReplicas default: %v", *h1.Spec.MinReplicas)
	}
	h2, err := v2c.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h2.Spec.Metrics) != 1 || *h2.Spec.Metrics[0].Resource.Target.AverageUtilization != 70 {
		t.Fatalf("v1 autoscaler read as v2: %+v", h2.Spec.Metrics)
	}
	h2.Spec.Metrics = append(h2.Spec.Metrics, autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{
			Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &seventy}}})
	if _, err := v2c.Update(ctx, h2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h1, err = v1c.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h1.Spec.MaxReplicas = 6
	if _, err := v1c.Update(ctx, h1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h2, err = v2c.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h2.Spec.MaxReplicas != 6 || len(h2.Spec.Metrics) != 2 || h2.Spec.Metrics[1].Resource.Name != corev1.ResourceMemory || len(h2.Annotations) != 0 {
		t.Errorf("after a v1 update, v2 reads max %d metrics %+v annotations %v", h2.Spec.MaxReplicas, h2.Spec.Metrics, h2.Annotations)
	}
	for i := 0; i < 3; i++ {
		ev := <-w.ResultChan()
		if _, ok := ev.Object.(*autoscalingv1.HorizontalPodAutoscaler); !ok {
			t.Fatalf("v1 watch event %d: %T", i, ev.Object)
		}
	}
}
