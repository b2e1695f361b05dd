package hatest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/store/consulstore/consultest"
	"github.com/drover-ci/drover/internal/hatest"
)

// HandoverBound is how long after kill -9 of the controller leader a new leader must have
// acted: the 15 s. With the manager's defaults (10 s lease, 7 s renew deadline, 1 s retry
// with client-go's 1.2 jitter), a follower takes the Lease 10 s after it last saw it renewed,
// checking every 1 to 2.2 s: about 9 to 12.2 s after the kill, plus the controllers' start.
const HandoverBound = 15 * time.Second

func rc(name string, replicas int32) *corev1.ReplicationController {
	lbl := map[string]string{"app": name}
	grace := int64(1)
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: lbl,
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbl},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers:                    []corev1.Container{{Name: "web", Image: "drover/testserver:1"}},
				},
			},
		},
	}
}

// activePods lists the RC's active pods (not terminating, Pending or Running) and how many of
// them run.
func activePods(ctx context.Context, cs kubernetes.Interface, ns, app string) (names []string, running int, err error) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return nil, 0, err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if active(p) {
			names = append(names, p.Name)
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
	}
	return names, running, nil
}

// waitRunning waits until the RC has exactly want active pods, all Running, none of them in
// gone.
func waitRunning(ctx context.Context, cs kubernetes.Interface, ns, app string, want int, gone map[string]bool, timeout time.Duration) error {
	return retry(timeout, func(ctx context.Context) error {
		names, running, err := activePods(ctx, cs, ns, app)
		if err != nil {
			return err
		}
		for _, n := range names {
			if gone[n] {
				return fmt.Errorf("deleted pod %s still active", n)
			}
		}
		if len(names) != want || running != want {
			return fmt.Errorf("%d active pods, %d running; want %d", len(names), running, want)
		}
		return nil
	})
}

func scale(cs kubernetes.Interface, ns, name string, replicas int32) error {
	return retry(20*time.Second, func(ctx context.Context) error {
		s, err := cs.CoreV1().ReplicationControllers(ns).GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Spec.Replicas = replicas
		_, err = cs.CoreV1().ReplicationControllers(ns).UpdateScale(ctx, name, s, metav1.UpdateOptions{})
		return err
	})
}

// startHA runs Consul (a dev agent), three drover servers over it and three hollow nodes, and
// waits for a controller leader and the nodes. args are more `drover server` flags.
func startHA(t testing.TB, name string, args ...string) (*hatest.Cluster, kubernetes.Interface) {
	t.Helper()
	agent := consultest.Start(t)
	c := hatest.Start(t, hatest.Options{Bin: droverBin, Servers: 3, Store: "consul://" + agent.Addr + "/" + prefix(name), Args: args})
	cs := c.Client("")
	if _, err := c.WaitLeader(context.Background(), nil, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	c.StartHollowNodes(t, name, 3)
	waitNodesReady(t, cs, 3)
	return c, cs
}

// Three drover servers over one Consul; the controller leader is killed (-9) four times while an
// RC of 5 is scaled 5→3→5 and its pods are deleted, and ConfigMaps are created against random
// servers all along. After each kill another server takes the Lease and the RC reaches its
// new size; the RC never has more than 5 active pods; every acknowledged create is readable
// from every server.
func TestKillLeaderRepeatedly(t *testing.T) {
	c, cs := startHA(t, "kill")
	const ns, app = "default", "web"
	createNamespace(t, cs, "writes")
	if err := retry(20*time.Second, func(ctx context.Context) error {
		_, err := cs.CoreV1().ReplicationControllers(ns).Create(ctx, rc(app, 5), metav1.CreateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := waitRunning(context.Background(), cs, ns, app, 5, nil, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	mon := startPodMonitor(t, cs, ns, "app="+app)
	w := startWriter(t, c, "writes")

	var leaseTimes, actTimes []time.Duration
	replicas := int32(5)
	for round := 0; round < 4; round++ {
		ctx := context.Background()
		leader, err := c.WaitLeader(ctx, nil, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		names, _, err := activePods(ctx, cs, ns, app)
		if err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		leader.Kill()
		// While no server leads: delete two pods and change the size.
		gone := map[string]bool{}
		for _, n := range names[:2] {
			if err := retry(20*time.Second, func(ctx context.Context) error {
				return cs.CoreV1().Pods(ns).Delete(ctx, n, metav1.DeleteOptions{})
			}); err != nil {
				t.Fatalf("round %d: delete pod %s: %v", round, n, err)
			}
			gone[n] = true
		}
		if replicas == 5 {
			replicas = 3
		} else {
			replicas = 5
		}
		if err := scale(cs, ns, app, replicas); err != nil {
			t.Fatalf("round %d: scale to %d: %v", round, replicas, err)
		}
		next, err := c.WaitLeader(ctx, leader, HandoverBound)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		leaseTimes = append(leaseTimes, time.Since(killed))
		if err := waitRunning(ctx, cs, ns, app, int(replicas), gone, HandoverBound); err != nil {
			t.Fatalf("round %d: RC not at %d running pods %v after the kill: %v", round, replicas, time.Since(killed), err)
		}
		acted := time.Since(killed)
		actTimes = append(actTimes, acted)
		t.Logf("round %d: killed server %d; server %d took the Lease after %v; RC at %d running pods after %v",
			round, leader.Index, next.Index, leaseTimes[round].Round(time.Millisecond), replicas, acted.Round(time.Millisecond))
		if acted > HandoverBound {
			t.Errorf("round %d: the new leader acted %v after the kill, want <= %v", round, acted, HandoverBound)
		}
		if err := leader.Start(); err != nil {
			t.Fatal(err)
		}
		if err := leader.WaitReady(60 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	w.Stop()
	t.Logf("handover: Lease taken p50 %v max %v; RC acted on p50 %v max %v",
		percentile(leaseTimes, 0.5).Round(time.Millisecond), percentile(leaseTimes, 1).Round(time.Millisecond),
		percentile(actTimes, 0.5).Round(time.Millisecond), percentile(actTimes, 1).Round(time.Millisecond))
	if max, at, pods := mon.Max(); max > 5 {
		t.Errorf("the RC had %d active pods at %s: %v; want at most 5", max, at, pods)
	} else {
		t.Logf("largest number of active pods seen: %d", max)
	}
	w.verify(t)
}
