package registry

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestTranslateTimestampSince(t *testing.T) {
	tests := []struct {
		name string
		ts   metav1.Time
		want string
	}{
		{"zero", metav1.Time{}, "<unknown>"},
		{"seconds", metav1.NewTime(time.Now().Add(-30 * time.Second)), "30s"},
		{"minutes", metav1.NewTime(time.Now().Add(-5*time.Minute - time.Second)), "5m1s"},
		{"days", metav1.NewTime(time.Now().Add(-72 * time.Hour)), "3d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := translateTimestampSince(tt.ts); got != tt.want {
				t.Errorf("translateTimestampSince = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSharedColumns(t *testing.T) {
	if nameColumn.Name != "Name" || nameColumn.Format != "name" || nameColumn.Description == "" {
		t.Errorf("nameColumn = %+v", nameColumn)
	}
	if ageColumn.Name != "Age" || ageColumn.Description == "" {
		t.Errorf("ageColumn = %+v", ageColumn)
	}
	if got := stringOrNone(""); got != "<none>" {
		t.Errorf("stringOrNone(\"\") = %q", got)
	}
}

// metaErrStrings renders a field.ErrorList as its messages ("spec.ports: Required value"),
// for comparison in tests; nil for no errors.
func metaErrStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
