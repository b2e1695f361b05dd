package nodeagent

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// jenkinsService is the walkthrough's service: http 8080 and slave 50000.
func jenkinsService(ip string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "jenkins", Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: ip, Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{
			{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP},
			{Name: "slave", Port: 50000, Protocol: corev1.ProtocolTCP},
		}}}
}

func TestServiceEnvTwoPorts(t *testing.T) {
	headless := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "agents"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Port: 50000}}}}
	noIP := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "pending"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	udp := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "my-dns"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.10", Ports: []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}}}}
	got := serviceEnv([]*corev1.Service{udp, jenkinsService("10.0.0.5"), headless, noIP})
	want := []envVar{
		{"JENKINS_SERVICE_HOST", "10.0.0.5"},
		{"JENKINS_SERVICE_PORT", "8080"},
		{"JENKINS_SERVICE_PORT_HTTP", "8080"},
		{"JENKINS_SERVICE_PORT_SLAVE", "50000"},
		{"JENKINS_PORT", "tcp://10.0.0.5:8080"},
		{"JENKINS_PORT_8080_TCP", "tcp://10.0.0.5:8080"},
		{"JENKINS_PORT_8080_TCP_PROTO", "tcp"},
		{"JENKINS_PORT_8080_TCP_PORT", "8080"},
		{"JENKINS_PORT_8080_TCP_ADDR", "10.0.0.5"},
		{"JENKINS_PORT_50000_TCP", "tcp://10.0.0.5:50000"},
		{"JENKINS_PORT_50000_TCP_PROTO", "tcp"},
		{"JENKINS_PORT_50000_TCP_PORT", "50000"},
		{"JENKINS_PORT_50000_TCP_ADDR", "10.0.0.5"},
		// dashes become underscores; an unnamed port has no _SERVICE_PORT_<NAME>
		{"MY_DNS_SERVICE_HOST", "10.0.0.10"},
		{"MY_DNS_SERVICE_PORT", "53"},
		{"MY_DNS_PORT", "udp://10.0.0.10:53"},
		{"MY_DNS_PORT_53_UDP", "udp://10.0.0.10:53"},
		{"MY_DNS_PORT_53_UDP_PROTO", "udp"},
		{"MY_DNS_PORT_53_UDP_PORT", "53"},
		{"MY_DNS_PORT_53_UDP_ADDR", "10.0.0.10"},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(envVar{})); d != "" {
		t.Errorf("serviceEnv (-want +got):\n%s", d)
	}
	if env := serviceEnv([]*corev1.Service{headless, noIP}); len(env) != 0 {
		t.Errorf("headless and IP-less services give %v, want none", env)
	}
}

// fakeObjects answers secrets and configmaps from maps; a missing one is NotFound.
type fakeObjects struct {
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
}

func (f fakeObjects) secret(_ context.Context, ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func (f fakeObjects) allocatable() corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("16Gi")}
}

func (f fakeObjects) configMap(_ context.Context, ns, name string) (*corev1.ConfigMap, error) {
	if c, ok := f.configMaps[ns+"/"+name]; ok {
		return c, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func envObjects() fakeObjects {
	return fakeObjects{
		secrets: map[string]*corev1.Secret{"ci/jenkins": {Data: map[string][]byte{"password": []byte("s3cret"), "user": []byte("admin")}}},
		configMaps: map[string]*corev1.ConfigMap{
			"ci/settings": {Data: map[string]string{"mode": "fast", "level": "3"}},
		},
	}
}

func envPod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "ci", UID: "uid-1"},
		Spec:   corev1.PodSpec{NodeName: "node-a"},
		Status: corev1.PodStatus{PodIP: "10.88.0.7", HostIP: "192.168.1.2"}}
}

func TestContainerEnvOrderAndValueFrom(t *testing.T) {
	yes := true
	c := &corev1.Container{Name: "main",
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
		Env: []corev1.EnvVar{
			{Name: "URL", Value: "http://$(JENKINS_SERVICE_HOST):$(JENKINS_SERVICE_PORT_HTTP)/$(LATER)"},
			{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "jenkins"}, Key: "password"}}},
			{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "mode"}}},
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "POD_NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "OPTIONAL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "k", Optional: &yes}}},
			{Name: "ADDR", Value: "$(POD_IP):$(CFG_level) $$(POD_IP)"},
			{Name: "LATER", Value: "x"},
			{Name: "CFG_mode", Value: "override-$(CFG_mode)"},
		}}
	svc := serviceEnv([]*corev1.Service{jenkinsService("10.0.0.5")})
	got, err := containerEnv(context.Background(), envObjects(), envPod(), c, svc)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(got))
	values := map[string]string{}
	for i, e := range got {
		names[i] = e.name
		values[e.name] = e.value
	}
	// Service variables come first, then envFrom (sorted keys, prefixed), then env in order;
	// a redefined name keeps only its last value.
	if !strings.HasPrefix(names[0], "JENKINS_") || names[len(svc)] != "CFG_level" {
		t.Errorf("order = %v, want service variables first, then envFrom", names)
	}
	wantTail := []string{"URL", "PASSWORD", "MODE", "POD_NAME", "POD_NS", "POD_IP", "NODE", "ADDR", "LATER", "CFG_mode"}
	if d := cmp.Diff(wantTail, names[len(names)-len(wantTail):]); d != "" {
		t.Errorf("env order (-want +got):\n%s", d)
	}
	if len(names) != len(svc)+1+len(wantTail) {
		t.Errorf("got %d variables %v, want %d (optional missing secret skipped, CFG_mode once)", len(names), names, len(svc)+1+len(wantTail))
	}
	want := map[string]string{
		"URL":      "http://10.0.0.5:8080/$(LATER)", // LATER is defined after URL: kept as written
		"PASSWORD": "s3cret", "MODE": "fast",
		"POD_NAME": "builder", "POD_NS": "ci", "POD_IP": "10.88.0.7", "NODE": "node-a",
		"ADDR":      "10.88.0.7:3 $(POD_IP)",
		"CFG_level": "3",
		"CFG_mode":  "override-fast",
	}
	for k, v := range want {
		if values[k] != v {
			t.Errorf("%s = %q, want %q", k, values[k], v)
		}
	}
	if _, ok := values["OPTIONAL"]; ok {
		t.Error("optional variable of a missing secret is set")
	}
}

func TestContainerEnvErrors(t *testing.T) {
	ref := func(src corev1.EnvVarSource) *corev1.Container {
		return &corev1.Container{Name: "c", Env: []corev1.EnvVar{{Name: "V", ValueFrom: &src}}}
	}
	yes := true
	cases := map[string]struct {
		c       *corev1.Container
		wantErr string
	}{
		"missing secret": {ref(corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}), `secret "nope"`},
		"missing secret key": {ref(corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "jenkins"}, Key: "k"}}), "couldn't find key k in Secret ci/jenkins"},
		"missing configmap key": {ref(corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "k"}}), "couldn't find key k in ConfigMap ci/settings"},
		"missing envFrom": {&corev1.Container{EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}}}, `envFrom secret "nope"`},
		"bad fieldRef": {ref(corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.bogus"}}), "unsupported fieldRef"},
		"optional key": {ref(corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "k", Optional: &yes}}), ""},
		"optional envFrom": {&corev1.Container{EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: &yes}}}}, ""},
	}
	for name, tc := range cases {
		env, err := containerEnv(context.Background(), envObjects(), envPod(), tc.c, nil)
		switch {
		case tc.wantErr == "" && (err != nil || len(env) != 0):
			t.Errorf("%s: env %v, err %v; want none and no error", name, env, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err %v, want one containing %q", name, err, tc.wantErr)
		}
	}
}

// resourceFieldRef in env: the divisor, and the node's allocatable for a limit not set.
func TestContainerEnvResourceFieldRef(t *testing.T) {
	c := &corev1.Container{Name: "main",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}},
		Env: []corev1.EnvVar{
			{Name: "CPU_M", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("1m")}}},
			{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
		}}
	got, err := containerEnv(context.Background(), envObjects(), envPod(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []envVar{{"CPU_M", "500"}, {"MEM_MI", "16384"}}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(envVar{})); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
}
