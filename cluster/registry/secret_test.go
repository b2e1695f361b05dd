package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSecretDefault(t *testing.T) {
	s := &corev1.Secret{Data: map[string][]byte{"a": []byte("1"), "b": []byte("old")}, StringData: map[string]string{"b": "new"}}
	secretDefault(s)
	if s.Type != corev1.SecretTypeOpaque || s.StringData != nil {
		t.Errorf("type %q stringData %v", s.Type, s.StringData)
	}
	if diff := cmp.Diff(map[string][]byte{"a": []byte("1"), "b": []byte("new")}, s.Data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
}

func TestSecretValidate(t *testing.T) {
	tests := []struct {
		name string
		s    corev1.Secret
		want []string
	}{
		{"ok", corev1.Secret{Type: "Opaque", Data: map[string][]byte{"config.json": nil}}, nil},
		{"bad key", corev1.Secret{Type: "Opaque", Data: map[string][]byte{"a/b": nil}}, []string{
			`data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`}},
		{"too big", corev1.Secret{Type: "Opaque", Data: map[string][]byte{"a": make([]byte, MaxSecretSize), "b": {1}}},
			[]string{"data: Too long: may not be more than 1048576 bytes"}},
		{"tls without key", corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil}},
			[]string{"data[tls.key]: Required value"}},
		{"sa token without annotation", corev1.Secret{Type: corev1.SecretTypeServiceAccountToken},
			[]string{"metadata.annotations[kubernetes.io/service-account.name]: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(secretValidate(&tt.s))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretValidateUpdate(t *testing.T) {
	yes, no := true, false
	old := &corev1.Secret{Type: "Opaque", Immutable: &yes, Data: map[string][]byte{"a": []byte("1")}}
	tests := []struct {
		name string
		old  *corev1.Secret
		s    *corev1.Secret
		want []string
	}{
		{"unchanged immutable", old, old.DeepCopy(), nil},
		{"type change", &corev1.Secret{Type: "Opaque"}, &corev1.Secret{Type: "kubernetes.io/basic-auth", Data: map[string][]byte{"username": nil}},
			[]string{`type: Invalid value: "kubernetes.io/basic-auth": field is immutable`}},
		{"data of immutable", old, &corev1.Secret{Type: "Opaque", Immutable: &yes, Data: map[string][]byte{"a": []byte("2")}},
			[]string{"data: Forbidden: field is immutable when `immutable` is set"}},
		{"unset immutable", old, &corev1.Secret{Type: "Opaque", Immutable: &no, Data: old.Data},
			[]string{"immutable: Forbidden: field is immutable when `immutable` is set"}},
		{"mutable data change", &corev1.Secret{Type: "Opaque"}, &corev1.Secret{Type: "Opaque", Data: map[string][]byte{"x": nil}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metaErrStrings(secretValidateUpdate(tt.s, tt.old))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretFieldsAndTable(t *testing.T) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "jenkins-agent"}, Type: "Opaque",
		Data: map[string][]byte{"a": nil, "b": nil}}
	r, _ := lookup(corev1.SchemeGroupVersion.WithResource("secrets"))
	if got := r.Fields(s)["type"]; got != "Opaque" {
		t.Errorf("type field = %q", got)
	}
	got, err := secretTable().Row(s)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]interface{}{"jenkins-agent", "Opaque", int64(2), "<unknown>"}, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
}

func TestConfigMapValidate(t *testing.T) {
	yes := true
	tests := []struct {
		name string
		cm   corev1.ConfigMap
		old  *corev1.ConfigMap
		want []string
	}{
		{"ok", corev1.ConfigMap{Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": nil}}, nil, nil},
		{"duplicate key", corev1.ConfigMap{Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"a": nil}}, nil,
			[]string{`data[a]: Invalid value: "a": duplicate of key present in binaryData`,
				`binaryData[a]: Invalid value: "a": duplicate of key present in data`}},
		{"bad key", corev1.ConfigMap{Data: map[string]string{"..": ""}}, nil,
			[]string{`data[..]: Invalid value: "..": must not be '..'`}},
		{"too big", corev1.ConfigMap{Data: map[string]string{"a": strings.Repeat("x", MaxSecretSize+1)}}, nil,
			[]string{"[]: Too long: may not be more than 1048576 bytes"}},
		{"immutable data", corev1.ConfigMap{Immutable: &yes, Data: map[string]string{"a": "2"}},
			&corev1.ConfigMap{Immutable: &yes, Data: map[string]string{"a": "1"}},
			[]string{"data: Forbidden: field is immutable when `immutable` is set"}},
		{"immutable binary", corev1.ConfigMap{BinaryData: map[string][]byte{"b": nil}},
			&corev1.ConfigMap{Immutable: &yes},
			[]string{"immutable: Forbidden: field is immutable when `immutable` is set",
				"binaryData: Forbidden: field is immutable when `immutable` is set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := cmValidate(&tt.cm)
			if tt.old != nil {
				errs = cmValidateUpdate(&tt.cm, tt.old)
			}
			if diff := cmp.Diff(tt.want, metaErrStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
	got, _ := cmTable().Row(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"},
		Data: map[string]string{"a": ""}, BinaryData: map[string][]byte{"b": nil}})
	if diff := cmp.Diff([]interface{}{"c", int64(2), "<unknown>"}, got); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
}
