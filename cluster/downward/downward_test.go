package downward

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodField(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "ci", UID: "uid-1",
			Labels:      map[string]string{"tier": "ci", "app": "jenkins"},
			Annotations: map[string]string{"note": `say "hi"`}},
		Spec: corev1.PodSpec{NodeName: "node-a", ServiceAccountName: "agent"},
		Status: corev1.PodStatus{PodIP: "10.88.0.7", PodIPs: []corev1.PodIP{{IP: "10.88.0.7"}, {IP: "fd00::7"}},
			HostIP: "192.168.1.2"},
	}
	const no = "\x00" // not allowed in that use
	tests := []struct {
		path     string
		env, vol string
	}{
		{"metadata.name", "builder", "builder"},
		{"metadata.namespace", "ci", "ci"},
		{"metadata.uid", "uid-1", "uid-1"},
		{"metadata.labels['app']", "jenkins", "jenkins"},
		{"metadata.labels['absent']", "", ""},
		{"metadata.annotations['note']", `say "hi"`, `say "hi"`},
		{"metadata.labels", no, "app=\"jenkins\"\ntier=\"ci\""},
		{"metadata.annotations", no, `note="say \"hi\""`},
		{"spec.nodeName", "node-a", no},
		{"spec.serviceAccountName", "agent", no},
		{"status.podIP", "10.88.0.7", no},
		{"status.podIPs", "10.88.0.7,fd00::7", no},
		{"status.hostIP", "192.168.1.2", no},
		{"status.hostIPs", "192.168.1.2", no}, // no hostIPs: the hostIP
		{"spec.bogus", no, no},
		{"metadata.labels['app'", no, no},
	}
	for _, tt := range tests {
		for use, want := range map[Use]string{Env: tt.env, Volume: tt.vol} {
			got, ok := PodField(pod, tt.path, use)
			switch {
			case want == no && ok:
				t.Errorf("PodField(%q, %v) = %q, want not allowed", tt.path, use, got)
			case want != no && (!ok || got != want):
				t.Errorf("PodField(%q, %v) = %q, %v; want %q", tt.path, use, got, ok, want)
			}
		}
	}
}
