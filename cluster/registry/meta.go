package registry

import (
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Shared column definitions, with the descriptions Kubernetes' printers use.
var (
	// nameColumn is the NAME column every table starts with.
	nameColumn = metav1.TableColumnDefinition{
		Name: "Name", Type: "string", Format: "name",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["name"],
	}
	// ageColumn is the AGE column (creationTimestamp rendered by translateTimestampSince).
	ageColumn = metav1.TableColumnDefinition{
		Name: "Age", Type: "string",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"],
	}
)

// column builds a column definition; priority 1 marks the columns `-o wide` adds.
func column(name, typ, description string, priority int32) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description, Priority: priority}
}

// translateTimestampSince renders the age of ts the way kubectl does ("5m", "3d"), or
// "<unknown>" for the zero time.
func translateTimestampSince(ts metav1.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(ts.Time))
}

// translateTimestampUntil renders the time left until ts, or "<unknown>" for the zero time.
func translateTimestampUntil(ts metav1.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Until(ts.Time))
}

// stringOrNone returns s, or "<none>" when s is empty.
func stringOrNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// sortedKeys returns the keys of m in order, so errors come out deterministically.
func sortedKeys[K ~string, V any](m map[K]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	return keys
}
