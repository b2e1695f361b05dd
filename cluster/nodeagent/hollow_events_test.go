package nodeagent

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/container/hollow"
	"github.com/drover-ci/drover/internal/uptest"
)

// TestHollowSharedEvents: agents sharing one event broadcaster (drover node --runtime=hollow
// --count N) each record their pods' events under their own node's name.
func TestHollowSharedEvents(t *testing.T) {
	srv := apiservertest.Start(t)
	client, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	events := NewEventBroadcaster(context.Background(), client)
	done := make(chan error, 2)
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		events.Shutdown()
	})
	for i := 0; i < 2; i++ {
		rt := hollow.New(hollow.Options{})
		a, err := New(Config{NodeName: fmt.Sprintf("shared-%d", i), Client: client, Runtime: rt, Probes: rt.Prober(),
			NodeIP: "127.0.0.1", Events: events, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		go func() { done <- a.Run(ctx) }()
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "default"},
			Spec: corev1.PodSpec{NodeName: a.cfg.NodeName, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	uptest.Eventually(t, 30*time.Second, "a Started event of each pod from its own node", func() bool {
		list, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false
		}
		seen := map[string]bool{}
		for _, e := range list.Items {
			if e.Reason == "Started" && e.Source.Component == "drover-node" {
				seen[e.InvolvedObject.Name+"@"+e.Source.Host] = true
			}
		}
		return seen["p0@shared-0"] && seen["p1@shared-1"]
	})
}
