package registry

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func podTestPod(mutate func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.25"}}},
	}
	if mutate != nil {
		mutate(pod)
	}
	podDefault(pod)
	return pod
}

func TestWorkloadResourcesRegistered(t *testing.T) {
	tests := []struct {
		gvr         schema.GroupVersionResource
		kind        string
		short       []string
		subs        []string
		firstCol    string
		columns     int
		wideFromCol int
	}{
		{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "Pod", []string{"po"}, []string{"status", "binding", "log", "eviction", "exec", "attach", "portforward", "proxy", "ephemeralcontainers"}, "Name", 9, 5},
		{schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}, "ReplicationController", []string{"rc"}, []string{"status", "scale"}, "Name", 8, 5},
		{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, "Job", nil, []string{"status"}, "Name", 8, 5},
		{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, "CronJob", []string{"cj"}, []string{"status"}, "Name", 10, 7},
	}
	for _, tt := range tests {
		r, ok := lookup(tt.gvr)
		if !ok {
			t.Fatalf("%s not registered", tt.gvr)
		}
		got := []interface{}{r.Kind, r.ShortNames, r.Subresources, r.Categories, r.HasStatus, r.Namespaced, r.New() != nil, r.NewList() != nil}
		want := []interface{}{tt.kind, tt.short, tt.subs, []string{"all"}, true, true, true, true}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.gvr.Resource, d)
		}
		if r.Table == nil || len(r.Table.Columns) != tt.columns {
			t.Fatalf("%s: table missing or wrong column count", tt.gvr.Resource)
		}
		if c := r.Table.Columns[0]; c.Name != tt.firstCol || c.Format != "name" {
			t.Errorf("%s: first column %+v", tt.gvr.Resource, c)
		}
		for i, c := range r.Table.Columns {
			if want := int32(0); i >= tt.wideFromCol {
				want = 1
				if c.Priority != want {
					t.Errorf("%s column %s priority %d, want %d", tt.gvr.Resource, c.Name, c.Priority, want)
				}
			} else if c.Priority != want {
				t.Errorf("%s column %s priority %d, want %d", tt.gvr.Resource, c.Name, c.Priority, want)
			}
		}
	}
}

func TestPodPrepareForCreate(t *testing.T) {
	res := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	tests := []struct {
		name      string
		resources []corev1.ResourceRequirements
		want      corev1.PodQOSClass
	}{
		{"nothing", []corev1.ResourceRequirements{{}}, corev1.PodQOSBestEffort},
		{"limits both", []corev1.ResourceRequirements{{Limits: res("1", "1Gi")}}, corev1.PodQOSGuaranteed},
		{"limits only cpu", []corev1.ResourceRequirements{{Limits: res("1", "")}}, corev1.PodQOSBurstable},
		{"requests below limits", []corev1.ResourceRequirements{{Limits: res("1", "1Gi"), Requests: res("500m", "1Gi")}}, corev1.PodQOSBurstable},
		{"one container without", []corev1.ResourceRequirements{{Limits: res("1", "1Gi")}, {}}, corev1.PodQOSBurstable},
		{"two guaranteed", []corev1.ResourceRequirements{{Limits: res("1", "1Gi")}, {Limits: res("2", "2Gi")}}, corev1.PodQOSGuaranteed},
		{"requests only", []corev1.ResourceRequirements{{Requests: res("", "1Gi")}}, corev1.PodQOSBurstable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := podTestPod(func(p *corev1.Pod) {
				p.Spec.Containers = nil
				for i, r := range tt.resources {
					p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: string(rune('a' + i)), Image: "x", Resources: r})
				}
				p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1"}
			})
			podPrepareForCreate(pod)
			want := corev1.PodStatus{Phase: corev1.PodPending, QOSClass: tt.want}
			if d := cmp.Diff(want, pod.Status); d != "" {
				t.Errorf("status (-want +got):\n%s", d)
			}
		})
	}
}

func TestPodPrepareForCreateSchedulingGates(t *testing.T) {
	pod := podTestPod(func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "wait"}} })
	podPrepareForCreate(pod)
	if len(pod.Status.Conditions) != 1 || pod.Status.Conditions[0].Reason != corev1.PodReasonSchedulingGated {
		t.Errorf("conditions = %+v, want PodScheduled=False SchedulingGated", pod.Status.Conditions)
	}
}

func TestPodValidateCreateForbidsEphemeralContainers(t *testing.T) {
	pod := podTestPod(func(p *corev1.Pod) { p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{}} })
	want := []string{"spec.ephemeralContainers: Forbidden: cannot be set on create"}
	if d := cmp.Diff(want, podErrStrings(podValidate(pod))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestPodValidateUpdate(t *testing.T) {
	ads := func(v int64) *int64 { return &v }
	tests := []struct {
		name   string
		old    func(*corev1.Pod)
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"image change", nil, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.26" }, []string{}},
		{"image removed", nil, func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" },
			[]string{"spec.containers[0].image: Required value"}},
		{"container added", nil, func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "b"})
		}, []string{"spec.containers: Forbidden: pod updates may not add or remove containers"}},
		{"restart policy", nil, func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{"spec: Forbidden: " + podUpdateForbiddenMsg + "\nchanged: spec.restartPolicy"}},
		{"deadline set", nil, func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ads(60) }, []string{}},
		{"deadline raised", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ads(60) },
			func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ads(120) },
			[]string{"spec.activeDeadlineSeconds: Invalid value: 120: must be less than or equal to previous value"}},
		{"deadline removed", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ads(60) },
			func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil },
			[]string{"spec.activeDeadlineSeconds: Invalid value: \"null\": must not update from a positive integer to nil value"}},
		{"toleration added", nil, func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists})
		}, []string{}},
		{"toleration changed", func(p *corev1.Pod) { p.Spec.Tolerations = []corev1.Toleration{{Key: "a", Value: "b"}} },
			func(p *corev1.Pod) { p.Spec.Tolerations[0].Value = "c" },
			[]string{"spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"}},
		{"negative grace to 1", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ads(-1) },
			func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ads(1) }, []string{}},
		{"grace changed", nil, func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ads(10) },
			[]string{"spec: Forbidden: " + podUpdateForbiddenMsg + "\nchanged: spec.terminationGracePeriodSeconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := podTestPod(tt.old)
			pod := old.DeepCopy()
			tt.mutate(pod)
			podDefault(pod)
			podPrepareForUpdate(pod, old)
			if d := cmp.Diff(tt.want, podErrStrings(podValidateUpdate(pod, old))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestPodPrepareForUpdateKeepsNodeName(t *testing.T) {
	old := podTestPod(func(p *corev1.Pod) { p.Spec.NodeName = "node-1" })
	pod := old.DeepCopy()
	pod.Spec.NodeName = "node-2"
	podPrepareForUpdate(pod, old)
	if pod.Spec.NodeName != "node-1" {
		t.Errorf("nodeName = %q, want node-1", pod.Spec.NodeName)
	}
	if errs := podValidateUpdate(pod, old); len(errs) != 0 {
		t.Errorf("unexpected errors: %v", errs)
	}
}

func TestPodValidateStatusUpdate(t *testing.T) {
	tests := []struct {
		name   string
		status corev1.PodStatus
		want   []string
	}{
		{"running", corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.2", Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: "example.com/gate", Status: corev1.ConditionTrue}}}, []string{}},
		{"bad phase", corev1.PodStatus{Phase: "Sleeping"},
			[]string{`status.phase: Unsupported value: "Sleeping": supported values: "Pending", "Running", "Succeeded", "Failed", "Unknown"`}},
		{"bad condition and ip", corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "nope"}},
			Conditions: []corev1.PodCondition{{Type: "bad type!"}}}, []string{
			`status.conditions[0].Type: Invalid value: "bad type!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			`status.podIPs[0]: Invalid value: "nope": must be a valid IP address`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := podTestPod(nil)
			podPrepareForCreate(old)
			pod := old.DeepCopy()
			pod.Status = tt.status
			podDefault(pod)
			if d := cmp.Diff(tt.want, podErrStrings(podValidateStatusUpdate(pod, old))); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestPodDefaultMirrorsIPs(t *testing.T) {
	pod := podTestPod(func(p *corev1.Pod) { p.Status.PodIP = "10.0.0.3"; p.Status.HostIP = "192.168.1.2" })
	got := []string{pod.Status.PodIPs[0].IP, pod.Status.HostIPs[0].IP}
	if d := cmp.Diff([]string{"10.0.0.3", "192.168.1.2"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	pod.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.9"}}
	podDefault(pod)
	if pod.Status.PodIP != "10.0.0.9" {
		t.Errorf("podIP = %s, want podIPs[0] 10.0.0.9", pod.Status.PodIP)
	}
}

func TestPodFields(t *testing.T) {
	pod := podTestPod(func(p *corev1.Pod) {
		p.Spec.NodeName = "n1"
		p.Spec.ServiceAccountName = "jenkins"
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.4", NominatedNodeName: "n2"}
	})
	want := fields.Set{
		"spec.nodeName": "n1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
		"spec.serviceAccountName": "jenkins", "spec.hostNetwork": "false", "status.phase": "Running",
		"status.podIP": "10.0.0.4", "status.nominatedNodeName": "n2",
	}
	if d := cmp.Diff(want, podFields(pod)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// podLookup returns a registered resource with its table, failing the test if it is missing.
func podLookup(t *testing.T, group, resource string) *Resource {
	t.Helper()
	r, ok := lookup(schema.GroupVersionResource{Group: group, Version: "v1", Resource: resource})
	if !ok || r.Table == nil {
		t.Fatalf("%s/%s not registered with a table", group, resource)
	}
	return r
}

// TestPodRefusesUnhonouredSecurity: the security settings the node agent cannot apply on
// Docker (an unmasked /proc, a Localhost seccomp profile) are refused with their field path;
// the ones it applies pass. An unsafe sysctl passes the API: the node refuses it.
func TestPodRefusesUnhonouredSecurity(t *testing.T) {
	yes, no := true, false
	unmasked, dflt := corev1.UnmaskedProcMount, corev1.DefaultProcMount
	gid := int64(1000)
	local := "p.json"
	pod := podTestPod(func(p *corev1.Pod) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &yes, FSGroup: &gid, SupplementalGroups: []int64{5},
			Sysctls:        []corev1.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}, {Name: "net.core.somaxconn", Value: "1024"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &local}}
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsNonRoot: &yes, ReadOnlyRootFilesystem: &yes,
			AllowPrivilegeEscalation: &no, ProcMount: &unmasked,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	})
	want := []string{
		"spec.securityContext.seccompProfile.type: Forbidden: Localhost: " + unhonoured + " (the node has no seccomp profile directory)",
		"spec.containers[0].securityContext.procMount: Forbidden: " + unhonoured,
	}
	if d := cmp.Diff(want, podErrStrings(podValidate(pod))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	ok := podTestPod(func(p *corev1.Pod) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &yes, FSGroup: &gid, SupplementalGroups: []int64{5},
			Sysctls:        []corev1.Sysctl{{Name: "net.ipv4.ip_local_port_range", Value: "1024 65000"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: &yes,
			AllowPrivilegeEscalation: &no, ProcMount: &dflt, Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}
	})
	if errs := podValidate(ok); len(errs) > 0 {
		t.Errorf("applied settings refused: %v", errs)
	}
}

// TestPodSysctlNames: Kubernetes' validateSysctls, with the expectations of the conformance
// spec "Sysctls should reject invalid sysctls": the malformed names are named, a well-formed
// unsafe one is not (the kubelet refuses it, not the API).
func TestPodSysctlNames(t *testing.T) {
	pod := podTestPod(func(p *corev1.Pod) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
			{Name: "foo-", Value: "bar"}, {Name: "kernel.shmmax", Value: "100000000"},
			{Name: "safe-and-unsafe", Value: "100000000"}, {Name: "bar..", Value: "42"},
			{Name: "kernel.shmmax", Value: "1"}, {Name: "net/ipv4/ip_local_port_range", Value: "1024 65000"}, {Name: ""}}}
	})
	re := `^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`
	want := []string{
		`spec.securityContext.sysctls[0].name: Invalid value: "foo-": must have at most 253 characters and match regex ` + re,
		`spec.securityContext.sysctls[3].name: Invalid value: "bar..": must have at most 253 characters and match regex ` + re,
		`spec.securityContext.sysctls[4].name: Duplicate value: "kernel.shmmax"`,
		`spec.securityContext.sysctls[6].name: Required value`,
	}
	if d := cmp.Diff(want, podErrStrings(podValidate(pod))); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	host := podTestPod(func(p *corev1.Pod) {
		p.Spec.HostNetwork, p.Spec.HostIPC = true, true
		p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{
			{Name: "net.ipv4.tcp_syncookies", Value: "1"}, {Name: "kernel.shm_rmid_forced", Value: "1"}}}
	})
	got := podErrStrings(podValidate(host))
	for _, w := range []string{
		`spec.securityContext.sysctls[0].name: Invalid value: "net.ipv4.tcp_syncookies": may not be specified when 'hostNetwork' is true`,
		`spec.securityContext.sysctls[1].name: Invalid value: "kernel.shm_rmid_forced": may not be specified when 'hostIPC' is true`,
	} {
		if !slices.Contains(got, w) {
			t.Errorf("hostNetwork/hostIPC pod: no %q in %v", w, got)
		}
	}
}
