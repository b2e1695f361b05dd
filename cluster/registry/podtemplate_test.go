package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podErrStrings renders errors as Kubernetes prints them ("spec.containers[0].image: Required value").
func podErrStrings(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// podTestSpec is a valid, defaulted pod spec with one container named "app".
func podTestSpec(mutate func(*corev1.PodSpec)) *corev1.PodSpec {
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.25"}}}
	if mutate != nil {
		mutate(spec)
	}
	podSpecDefault(spec)
	return spec
}

func TestPodSpecDefaults(t *testing.T) {
	spec := &corev1.PodSpec{
		Volumes: []corev1.Volume{
			{Name: "none"},
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "x"}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
			{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
		},
		Containers: []corev1.Container{{
			Name: "app", Image: "jenkins/jenkins",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
			Env: []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
		}},
	}
	podSpecDefault(spec)
	mode, gp, yes := int32(420), int64(30), true
	unset := corev1.HostPathUnset
	want := corev1.PodSpec{
		Volumes: []corev1.Volume{
			{Name: "none", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "x", DefaultMode: &mode}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{DefaultMode: &mode}}},
			{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x", Type: &unset}}},
		},
		Containers: []corev1.Container{{
			Name: "app", Image: "jenkins/jenkins",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			Env: []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}},
			LivenessProbe: &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/", Port: intstr.FromInt32(8080), Scheme: corev1.URISchemeHTTP}},
				TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
			},
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			},
			TerminationMessagePath:   "/dev/termination-log",
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			ImagePullPolicy:          corev1.PullAlways,
		}},
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: &gp,
		DNSPolicy:                     corev1.DNSClusterFirst,
		SecurityContext:               &corev1.PodSecurityContext{},
		SchedulerName:                 "default-scheduler",
		EnableServiceLinks:            &yes,
	}
	if d := cmp.Diff(want, *spec); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
}

func TestPodImagePullPolicyDefault(t *testing.T) {
	tests := map[string]corev1.PullPolicy{
		"nginx":                         corev1.PullAlways,
		"nginx:latest":                  corev1.PullAlways,
		"nginx:1.25":                    corev1.PullIfNotPresent,
		"localhost:5000/nginx":          corev1.PullAlways,
		"localhost:5000/nginx:1.25":     corev1.PullIfNotPresent,
		"nginx@sha256:0123456789abcdef": corev1.PullIfNotPresent,
	}
	for image, want := range tests {
		c := corev1.Container{Image: image}
		podContainerDefault(&c, false)
		if c.ImagePullPolicy != want {
			t.Errorf("%s: imagePullPolicy %s, want %s", image, c.ImagePullPolicy, want)
		}
	}
}

func TestPodSpecDefaultsKeepSetValuesAndHostNetworkPorts(t *testing.T) {
	gp := int64(5)
	spec := podTestSpec(func(s *corev1.PodSpec) {
		s.RestartPolicy = corev1.RestartPolicyNever
		s.TerminationGracePeriodSeconds = &gp
		s.HostNetwork = true
		s.DeprecatedServiceAccount = "jenkins"
		s.Containers[0].ImagePullPolicy = corev1.PullNever
		s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolUDP}}
	})
	got := []interface{}{spec.RestartPolicy, *spec.TerminationGracePeriodSeconds, spec.ServiceAccountName,
		spec.Containers[0].ImagePullPolicy, spec.Containers[0].Ports[0]}
	want := []interface{}{corev1.RestartPolicyNever, int64(5), "jenkins", corev1.PullNever,
		corev1.ContainerPort{ContainerPort: 80, HostPort: 80, Protocol: corev1.ProtocolUDP}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestPodSpecValidate(t *testing.T) {
	neg := int64(-1)
	tests := []struct {
		name   string
		mutate func(*corev1.PodSpec)
		want   []string
	}{
		{"valid", nil, []string{}},
		{"no containers", func(s *corev1.PodSpec) { s.Containers = nil },
			[]string{"spec.containers: Required value"}},
		{"missing image", func(s *corev1.PodSpec) { s.Containers[0].Image = "" },
			[]string{"spec.containers[0].image: Required value"}},
		{"image whitespace", func(s *corev1.PodSpec) { s.Containers[0].Image = " nginx" },
			[]string{`spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace`}},
		{"duplicate container name", func(s *corev1.PodSpec) { s.Containers = append(s.Containers, s.Containers[0]) },
			[]string{`spec.containers[1].name: Duplicate value: "app"`}},
		{"duplicate container port", func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 80}}
		}, []string{"spec.containers[0].ports[1].containerPort: Duplicate value: 80"}},
		{"duplicate port across containers", func(s *corev1.PodSpec) {
			s.Containers = append(s.Containers, corev1.Container{Name: "b", Image: "b", Ports: []corev1.ContainerPort{{ContainerPort: 80}}})
			s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}}
		}, []string{"spec.containers[1].ports[0].containerPort: Duplicate value: 80"}},
		{"same port other protocol", func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 53}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}}
		}, []string{}},
		{"duplicate host port", func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 81, HostPort: 8080}}
		}, []string{`spec.containers[0].ports[1].hostPort: Duplicate value: "TCP//8080"`}},
		{"port ranges", func(s *corev1.PodSpec) {
			s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000, HostPort: -1, Protocol: "ICMP"}, {Name: "http"}, {Name: "http", ContainerPort: 81}}
		}, []string{
			"spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
			"spec.containers[0].ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive",
			`spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`,
			"spec.containers[0].ports[1].containerPort: Required value",
			`spec.containers[0].ports[2].name: Duplicate value: "http"`,
		}},
		{"env name and valueFrom", func(s *corev1.PodSpec) {
			s.Containers[0].Env = []corev1.EnvVar{
				{Name: ""},
				{Name: "A", ValueFrom: &corev1.EnvVarSource{}},
				{Name: "B", Value: "x", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}},
				{Name: "C", ValueFrom: &corev1.EnvVarSource{
					FieldRef:        &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"},
					ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Key: "k"}}},
				{Name: "D", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.hostname"}}},
				{Name: "E", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels['app']"}}},
			}
		}, []string{
			"spec.containers[0].env[0].name: Required value",
			"spec.containers[0].env[1].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
			"spec.containers[0].env[2].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
			"spec.containers[0].env[3].valueFrom: Invalid value: \"\": may not have more than one field specified at a time",
			`spec.containers[0].env[4].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.hostname": supported values: "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"`,
		}},
		{"volumes and mounts", func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "Bad", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
				{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}},
			}
			s.Containers[0].VolumeMounts = []corev1.VolumeMount{
				{Name: "data", MountPath: "/data"}, {Name: "missing", MountPath: "/m"},
				{Name: "data", MountPath: "/data"}, {Name: "data", MountPath: "rel"}, {Name: "data"},
			}
		}, []string{
			`spec.volumes[1].name: Duplicate value: "data"`,
			`spec.volumes[2].name: Invalid value: "Bad": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
			"spec.volumes[2].emptyDir: Forbidden: may not specify more than 1 volume type",
			"spec.volumes[3].secret.secretName: Required value",
			`spec.containers[0].volumeMounts[1].name: Not found: "missing"`,
			`spec.containers[0].volumeMounts[2].mountPath: Invalid value: "/data": must be unique`,
			`spec.containers[0].volumeMounts[3].mountPath: Invalid value: "rel": must be an absolute path`,
			"spec.containers[0].volumeMounts[4].mountPath: Required value",
		}},
		{"csi volumes (the CSIInlineVolumes conformance pod)", func(s *corev1.PodSpec) {
			fs, ro := "ext4", true
			s.Volumes = []corev1.Volume{
				{Name: "csi-inline-vol1", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "e2e.example.com"}}},
				{Name: "csi-inline-vol2", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "e2e.example.com", FSType: &fs, ReadOnly: &ro,
					VolumeAttributes: map[string]string{"size": "1Gi"}, NodePublishSecretRef: &corev1.LocalObjectReference{Name: "creds"}}}},
			}
			s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "csi-inline-vol1", MountPath: "/mnt/vol1"}, {Name: "csi-inline-vol2", MountPath: "/mnt/vol2"}}
		}, []string{}},
		{"invalid csi volumes", func(s *corev1.PodSpec) {
			s.Volumes = []corev1.Volume{
				{Name: "a", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{}}},
				{Name: "b", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "e2e_example", NodePublishSecretRef: &corev1.LocalObjectReference{}}}},
				{Name: "c", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "e2e.example.com", NodePublishSecretRef: &corev1.LocalObjectReference{Name: "Bad"}}}},
			}
		}, []string{
			"spec.volumes[0].csi.driver: Required value",
			`spec.volumes[0].csi.driver: Invalid value: "": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			`spec.volumes[1].csi.driver: Invalid value: "e2e_example": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			"spec.volumes[1].csi.nodePublishSecretRef.name: Required value",
			`spec.volumes[2].csi.name: Invalid value: "Bad": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		}},
		{"probes", func(s *corev1.PodSpec) {
			s.Containers[0].LivenessProbe = &corev1.Probe{SuccessThreshold: 2, FailureThreshold: -1}
			s.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				Exec: &corev1.ExecAction{}, TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("no_such")}}}
			s.Containers[0].StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(0)}}}
		}, []string{
			"spec.containers[0].livenessProbe: Required value: must specify a handler type",
			"spec.containers[0].livenessProbe.failureThreshold: Invalid value: -1: must be greater than or equal to 0",
			"spec.containers[0].readinessProbe.exec.command: Required value",
			"spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
			"spec.containers[0].startupProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
			"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
		}},
		{"sleep hooks", func(s *corev1.PodSpec) {
			grace := int64(5)
			s.TerminationGracePeriodSeconds = &grace
			s.Containers[0].Lifecycle = &corev1.Lifecycle{
				PostStart: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 6}},
				PreStop:   &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}, Exec: &corev1.ExecAction{Command: []string{"x"}}}}
		}, []string{
			"spec.containers[0].lifecycle.postStart.sleep: Invalid value: 6: must be greater than 0 and less than terminationGracePeriodSeconds (5). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.",
			"spec.containers[0].lifecycle.preStop.sleep: Forbidden: may not specify more than 1 handler type",
		}},
		{"resources", func(s *corev1.PodSpec) {
			s.Containers[0].Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), "gpu": resource.MustParse("1")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("-1")},
			}
		}, []string{
			`spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers`,
			`spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers`,
			`spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0`,
			`spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`,
		}},
		{"pod level enums and names", func(s *corev1.PodSpec) {
			s.RestartPolicy = "Sometimes"
			s.DNSPolicy = "Magic"
			s.NodeName = "Node_1"
			s.NodeSelector = map[string]string{"disk": "ssd!"}
			s.TerminationGracePeriodSeconds = &neg
		}, []string{
			`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`,
			`spec.dnsPolicy: Unsupported value: "Magic": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"`,
			`spec.nodeSelector: Invalid value: "ssd!": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
			`spec.nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			"spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"dnsPolicy None needs dnsConfig", func(s *corev1.PodSpec) { s.DNSPolicy = corev1.DNSNone },
			[]string{"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"}},
		{"init container probes", func(s *corev1.PodSpec) {
			s.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", ReadinessProbe: &corev1.Probe{}}}
		}, []string{"spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"}},
		{"sidecar init container", func(s *corev1.PodSpec) {
			always := corev1.ContainerRestartPolicyAlways
			s.InitContainers = []corev1.Container{{Name: "side", Image: "busybox", RestartPolicy: &always}}
		}, []string{"spec.initContainers[0].restartPolicy: Forbidden: sidecar init containers (restartPolicy: Always) are not supported by drover; run the sidecar as a regular container"}},
		{"init and app container share a name", func(s *corev1.PodSpec) {
			s.InitContainers = []corev1.Container{{Name: "app", Image: "busybox"}}
		}, []string{`spec.containers[0].name: Duplicate value: "app"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := podTestSpec(tt.mutate)
			got := podErrStrings(podSpecValidate(spec, field.NewPath("spec")))
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
}

func TestPodTemplateValidateLabels(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{Spec: *podTestSpec(nil)}
	tmpl.Labels = map[string]string{"app": "-bad"}
	tmpl.Spec.EphemeralContainers = []corev1.EphemeralContainer{{}}
	errs := podTemplateValidate(tmpl, field.NewPath("spec", "template"))
	var got []string
	for _, e := range errs {
		got = append(got, e.Field+" "+e.Type.String())
	}
	want := []string{"spec.template.labels Invalid value", "spec.template.spec.ephemeralContainers Forbidden"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
