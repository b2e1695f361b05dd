package apiserver_test

import (
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Lists served from the cache with a spec.nodeName selector (the node agents' re-list, which
// the cache narrows by its node index first) select exactly what the selector says: one
// node's pods, the unscheduled ones for an empty name, with another field too, and never by
// index for a != selector.
func TestCachedListByNodeName(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	for name, node := range map[string]string{"a1": "n1", "a2": "n1", "b1": "n2", "u1": ""} {
		p := newPod(name, nil)
		p.Spec.NodeName = node
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ selector, want string }{
		{"spec.nodeName=n1", "a1 a2"},
		{"spec.nodeName==n2", "b1"},
		{"spec.nodeName=", "u1"},
		{"spec.nodeName=n1,metadata.name=a2", "a2"},
		{"spec.nodeName!=n1", "b1 u1"},
		{"spec.nodeName=n3", ""},
	} {
		for _, rv := range []string{"0", ""} {
			list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: c.selector, ResourceVersion: rv})
			if err != nil {
				t.Fatalf("%s (resourceVersion %q): %v", c.selector, rv, err)
			}
			var names []string
			for _, p := range list.Items {
				names = append(names, p.Name)
			}
			sort.Strings(names)
			if got := strings.Join(names, " "); got != c.want {
				t.Errorf("%s (resourceVersion %q): %q, want %q", c.selector, rv, got, c.want)
			}
		}
	}
}
