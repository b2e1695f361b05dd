package app

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolveArgs(t *testing.T) {
	c := newFakeAPI(t).clients(t)
	tests := []struct {
		args  []string
		want  []string // "resource:names"
		error string
	}{
		{args: []string{"pods"}, want: []string{"pods:"}},
		{args: []string{"pod", "a", "b"}, want: []string{"pods:a,b"}},
		{args: []string{"po"}, want: []string{"pods:"}},
		{args: []string{"Pod"}, want: []string{"pods:"}},
		{args: []string{"rc"}, want: []string{"replicationcontrollers:"}},
		{args: []string{"ReplicationController", "x"}, want: []string{"replicationcontrollers:x"}},
		{args: []string{"no"}, want: []string{"nodes:"}},
		{args: []string{"jobs.batch"}, want: []string{"jobs:"}},
		{args: []string{"jobs.v1.batch"}, want: []string{"jobs:"}},
		{args: []string{"pods,svc"}, want: []string{"pods:", "services:"}},
		{args: []string{"all"}, want: []string{"pods:", "replicationcontrollers:", "services:", "jobs:"}},
		{args: []string{"pod/a", "rc/b", "po/c"}, want: []string{"pods:a,c", "replicationcontrollers:b"}},
		{args: []string{"widgets"}, error: `doesn't have a resource type "widgets"`},
		{args: []string{"pods,svc", "x"}, error: "names can only be given with one resource type"},
		{args: []string{"pod/"}, error: "resource/name form"},
		{args: nil, error: "must specify the type of resource"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := c.resolveArgs(tt.args)
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tg := range got {
				names = append(names, tg.mapping.Resource.Resource+":"+strings.Join(tg.names, ","))
			}
			if d := cmp.Diff(tt.want, names); d != "" {
				t.Errorf("targets (-want +got):\n%s", d)
			}
		})
	}
}

func TestNamespacedAndKindRef(t *testing.T) {
	c := newFakeAPI(t).clients(t)
	ts, err := c.resolveArgs([]string{"nodes,pods,jobs"})
	if err != nil {
		t.Fatal(err)
	}
	if namespaced(ts[0].mapping) || !namespaced(ts[1].mapping) {
		t.Errorf("nodes should be cluster-scoped and pods namespaced")
	}
	if got := kindRef(ts[2].mapping.GroupVersionKind.GroupKind(), "j"); got != "job.batch/j" {
		t.Errorf("kindRef = %q", got)
	}
	if got := kindRef(ts[1].mapping.GroupVersionKind.GroupKind(), "p"); got != "pod/p" {
		t.Errorf("kindRef = %q", got)
	}
}
