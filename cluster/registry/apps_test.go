package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func appsTestTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
}

func appsTestSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
}

func intOrStr(v intstr.IntOrString) *intstr.IntOrString { return &v }

func TestAppsPercentHelpers(t *testing.T) {
	for _, c := range []struct {
		v       intstr.IntOrString
		value   int
		errs    int
		over100 bool
	}{
		{intstr.FromInt32(3), 3, 0, false}, {intstr.FromString("25%"), 25, 0, false},
		{intstr.FromString("150%"), 150, 0, true}, {intstr.FromString("abc"), 0, 1, false},
		{intstr.FromInt32(-1), -1, 1, false},
	} {
		if got := appsIntOrPercentValue(c.v); got != c.value {
			t.Errorf("%v: value %d, want %d", c.v.String(), got, c.value)
		}
		if got := len(appsValidatePositiveIntOrPercent(c.v, nil)); got != c.errs {
			t.Errorf("%v: %d errors, want %d", c.v.String(), got, c.errs)
		}
		if got := len(appsNotMoreThan100Percent(c.v, nil)) > 0; got != c.over100 {
			t.Errorf("%v: over 100%% %v", c.v.String(), got)
		}
	}
}

func TestReplicaSetDefaultsAndValidation(t *testing.T) {
	rs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Selector: appsTestSelector(), Template: appsTestTemplate()}}
	rsDefault(rs)
	if *rs.Spec.Replicas != 1 || rs.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("defaults: %+v", rs.Spec)
	}
	neg := int32(-2)
	tests := []struct {
		name   string
		mutate func(*appsv1.ReplicaSetSpec)
		want   []string
	}{
		{"valid", func(*appsv1.ReplicaSetSpec) {}, []string{}},
		{"negative replicas", func(s *appsv1.ReplicaSetSpec) { s.Replicas = &neg },
			[]string{"spec.replicas: Invalid value: -2: must be greater than or equal to 0"}},
		{"no selector", func(s *appsv1.ReplicaSetSpec) { s.Selector = nil }, []string{"spec.selector: Required value",
			// as in Kubernetes: a missing selector selects nothing, so the labels do not match it either
			"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"}},
		{"empty selector", func(s *appsv1.ReplicaSetSpec) { s.Selector = &metav1.LabelSelector{} },
			[]string{"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"}},
		{"selector mismatch", func(s *appsv1.ReplicaSetSpec) { s.Selector.MatchLabels["app"] = "db" },
			[]string{"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"}},
		{"restart OnFailure", func(s *appsv1.ReplicaSetSpec) { s.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rs.DeepCopy()
			tt.mutate(&c.Spec)
			if d := cmp.Diff(tt.want, podErrStrings(rsValidateSpec(&c.Spec, fieldPathSpec()))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	st := appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 2}
	want := []string{"status.availableReplicas: Invalid value: 2: cannot be greater than status.replicas",
		"status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas"}
	if d := cmp.Diff(want, podErrStrings(rsValidateStatus(&st, fieldPathStatus()))); d != "" {
		t.Errorf("status (-want +got):\n%s", d)
	}
}

func TestDeploymentDefaultsAndValidation(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Selector: appsTestSelector(), Template: appsTestTemplate()}}
	deploymentDefault(d)
	ru := d.Spec.Strategy.RollingUpdate
	got := []interface{}{*d.Spec.Replicas, d.Spec.Strategy.Type, ru.MaxSurge.String(), ru.MaxUnavailable.String(),
		*d.Spec.RevisionHistoryLimit, *d.Spec.ProgressDeadlineSeconds}
	if diff := cmp.Diff([]interface{}{int32(1), appsv1.RollingUpdateDeploymentStrategyType, "25%", "25%", int32(10), int32(600)}, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	recreate := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
	deploymentDefault(recreate)
	if recreate.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("Recreate got rolling update defaults: %+v", recreate.Spec.Strategy)
	}

	tests := []struct {
		name   string
		mutate func(*appsv1.DeploymentSpec)
		want   []string
	}{
		{"valid", func(*appsv1.DeploymentSpec) {}, []string{}},
		{"surge and unavailable 0", func(s *appsv1.DeploymentSpec) {
			s.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: intOrStr(intstr.FromInt32(0)), MaxUnavailable: intOrStr(intstr.FromString("0%"))}
		}, []string{`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"0%"}: may not be 0 when ` + "`maxSurge`" + ` is 0`}},
		{"bad percentages", func(s *appsv1.DeploymentSpec) {
			s.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: intOrStr(intstr.FromString("x%")), MaxUnavailable: intOrStr(intstr.FromString("120%"))}
		}, []string{
			`spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"x%"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`,
			`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: must not be greater than 100%`,
		}},
		{"rolling update with Recreate", func(s *appsv1.DeploymentSpec) { s.Strategy.Type = appsv1.RecreateDeploymentStrategyType },
			[]string{"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"}},
		{"progress deadline not above minReadySeconds", func(s *appsv1.DeploymentSpec) { s.MinReadySeconds = 600 },
			[]string{"spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"}},
		{"negative history", func(s *appsv1.DeploymentSpec) { s.RevisionHistoryLimit = appsInt32(-1) },
			[]string{"spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0"}},
		{"template error path", func(s *appsv1.DeploymentSpec) { s.Template.Spec.Containers[0].Image = "" },
			[]string{"spec.template.spec.containers[0].image: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := d.DeepCopy()
			tt.mutate(&c.Spec)
			if diff := cmp.Diff(tt.want, podErrStrings(deploymentValidateSpec(&c.Spec, fieldPathSpec()))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	r := podLookup(t, "apps", "deployments")
	old := d.DeepCopy()
	old.Generation = 4
	upd := old.DeepCopy()
	upd.Annotations = map[string]string{"kubernetes.io/change-cause": "x"}
	r.PrepareForUpdate(upd, old)
	if upd.Generation != 5 {
		t.Errorf("annotation change: generation %d, want 5", upd.Generation)
	}
	upd.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "x"}}
	upd.Spec.Template.Labels["tier"] = "x"
	if errs := podErrStrings(r.ValidateUpdate(upd, old)); len(errs) != 1 || errs[0][:len("spec.selector: Invalid value")] != "spec.selector: Invalid value" {
		t.Errorf("selector change: %v", errs)
	}
}

func TestStatefulSetDefaultsAndValidation(t *testing.T) {
	s := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Selector: appsTestSelector(), Template: appsTestTemplate(), ServiceName: "web",
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}}}
	s.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	stsDefault(s)
	rp := s.Spec.PersistentVolumeClaimRetentionPolicy
	got := []interface{}{*s.Spec.Replicas, s.Spec.PodManagementPolicy, s.Spec.UpdateStrategy.Type, *s.Spec.UpdateStrategy.RollingUpdate.Partition,
		*s.Spec.RevisionHistoryLimit, rp.WhenDeleted, rp.WhenScaled, *s.Spec.VolumeClaimTemplates[0].Spec.VolumeMode, s.Spec.VolumeClaimTemplates[0].Status.Phase}
	want := []interface{}{int32(1), appsv1.OrderedReadyPodManagement, appsv1.RollingUpdateStatefulSetStrategyType, int32(0), int32(10),
		appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		corev1.PersistentVolumeFilesystem, corev1.ClaimPending}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	tests := []struct {
		name   string
		mutate func(*appsv1.StatefulSetSpec)
		want   []string
	}{
		{"valid, mounting a claim template", func(*appsv1.StatefulSetSpec) {}, []string{}},
		{"bad pod management", func(s *appsv1.StatefulSetSpec) { s.PodManagementPolicy = "Random" },
			[]string{`spec.podManagementPolicy: Invalid value: "Random": must be 'OrderedReady' or 'Parallel'`}},
		{"negative partition", func(s *appsv1.StatefulSetSpec) { s.UpdateStrategy.RollingUpdate.Partition = appsInt32(-1) },
			[]string{"spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"}},
		{"bad retention", func(s *appsv1.StatefulSetSpec) { s.PersistentVolumeClaimRetentionPolicy.WhenScaled = "Keep" },
			[]string{`spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value: "Keep": supported values: "Delete", "Retain"`}},
		{"empty selector", func(s *appsv1.StatefulSetSpec) { s.Selector = &metav1.LabelSelector{} },
			[]string{"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for statefulset"}},
		{"mount of an unknown volume", func(s *appsv1.StatefulSetSpec) { s.Template.Spec.Containers[0].VolumeMounts[0].Name = "nope" },
			[]string{`spec.template.spec.containers[0].volumeMounts[0].name: Not found: "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.DeepCopy()
			tt.mutate(&c.Spec)
			if diff := cmp.Diff(tt.want, podErrStrings(stsValidateSpec(&c.Spec, fieldPathSpec()))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	upd := s.DeepCopy()
	upd.Spec.Replicas, upd.Spec.MinReadySeconds = appsInt32(3), 5
	upd.Spec.Template.Spec.Containers[0].Image = "busybox:1.37"
	if errs := stsValidateUpdate(upd, s); len(errs) != 0 {
		t.Errorf("allowed update refused: %v", errs)
	}
	upd.Spec.VolumeClaimTemplates[0].Name = "other"
	upd.Spec.Template.Spec.Containers[0].VolumeMounts[0].Name = "other"
	want2 := []string{"spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', " +
		"'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"}
	if diff := cmp.Diff(want2, podErrStrings(stsValidateUpdate(upd, s))); diff != "" {
		t.Errorf("claim template change (-want +got):\n%s", diff)
	}
}

func TestDaemonSetDefaultsAndValidation(t *testing.T) {
	ds := &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Selector: appsTestSelector(), Template: appsTestTemplate()}}
	dsDefault(ds)
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru.MaxUnavailable.String() != "1" ||
		ru.MaxSurge.String() != "0" || *ds.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("defaults: %+v", ds.Spec)
	}
	tests := []struct {
		name   string
		mutate func(*appsv1.DaemonSetSpec)
		want   []string
	}{
		{"valid", func(*appsv1.DaemonSetSpec) {}, []string{}},
		{"both set", func(s *appsv1.DaemonSetSpec) { s.UpdateStrategy.RollingUpdate.MaxSurge = intOrStr(intstr.FromInt32(1)) },
			[]string{`spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:""}: may not be set when maxUnavailable is non-zero`}},
		{"both 0", func(s *appsv1.DaemonSetSpec) {
			s.UpdateStrategy.RollingUpdate.MaxUnavailable = intOrStr(intstr.FromInt32(0))
		},
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"}},
		{"selector mismatch", func(s *appsv1.DaemonSetSpec) { s.Template.Labels = map[string]string{"app": "x"} },
			[]string{"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ds.DeepCopy()
			tt.mutate(&c.Spec)
			if diff := cmp.Diff(tt.want, podErrStrings(dsValidateSpec(&c.Spec, fieldPathSpec()))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	r := podLookup(t, "apps", "daemonsets")
	r.PrepareForCreate(ds)
	upd := ds.DeepCopy()
	upd.Spec.Template.Spec.Containers[0].Image = "busybox:1.37"
	upd.Annotations = nil
	r.PrepareForUpdate(upd, ds)
	if g := upd.Annotations[DaemonSetTemplateGenerationAnnotation]; ds.Annotations[DaemonSetTemplateGenerationAnnotation] != "1" || g != "2" {
		t.Errorf("template generation %q → %q, want 1 → 2", ds.Annotations[DaemonSetTemplateGenerationAnnotation], g)
	}
}

func fieldPathSpec() *field.Path   { return field.NewPath("spec") }
func fieldPathStatus() *field.Path { return field.NewPath("status") }
