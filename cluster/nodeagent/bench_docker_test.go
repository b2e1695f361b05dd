package nodeagent

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	dc "github.com/docker/docker/api/types/container"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/container/docker"
	"github.com/drover-ci/drover/internal/proctest"
)

const (
	benchServerImage = "drover/testserver:1"
	benchPauseImage  = "drover/pause:1"
	benchLabel       = "drover.io/bench"
)

// benchDocker returns the Docker runtime (DOCKER_HOST, else drover's private engine) with the
// test images built; without an engine the benchmark is skipped, or fails with DROVER_E2E=1.
func benchDocker(b *testing.B) *docker.Runtime {
	b.Helper()
	proctest.UsePrivateDocker()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rt, err := docker.New(ctx)
	if err == nil {
		err = docker.BuildTestImages(ctx, rt.Client(), false)
	}
	if err != nil {
		if os.Getenv("DROVER_E2E") == "1" {
			b.Fatalf("Docker engine (DOCKER_HOST=%s): %v", os.Getenv("DOCKER_HOST"), err)
		}
		b.Skipf("no Docker engine (DOCKER_HOST=%s): %v", os.Getenv("DOCKER_HOST"), err)
	}
	return rt
}

func benchServerPod(name string) *corev1.Pod {
	grace := int64(1)
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{{
			Name: "server", Image: benchServerImage, ImagePullPolicy: corev1.PullNever,
			Env: []corev1.EnvVar{{Name: "PORT", Value: "8080"}}}}}}
}

// BenchmarkPodStartupDocker measures pod create → Running (seen through a watch) with a node
// agent on the real engine, against creating and starting the same two containers (pause, and
// testserver joining its network namespace) by hand through the Docker API, interleaved, 20
// runs each. Targets: pod p50 ≤ 1.3 × by-hand p50, pod p99 < 1 s.
func BenchmarkPodStartupDocker(b *testing.B) {
	const runs = 20
	rt := benchDocker(b)
	srv := apiservertest.Start(b)
	client, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		b.Fatal(err)
	}
	node := fmt.Sprintf("bench-startup-%d", os.Getpid())
	const network, subnet = "drover-nabench", "10.93.0.0/16" // unique: other benchmarks have their own
	a, err := New(Config{NodeName: node, Client: client, Runtime: rt, Network: network, Subnet: subnet,
		PauseImage: benchPauseImage, NodeIP: "127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	b.Cleanup(func() {
		removeLabelled(rt, map[string]string{LabelNode: node})
		removeLabelled(rt, map[string]string{benchLabel: node})
		cancel()
		<-done
		_ = rt.Client().NetworkRemove(context.Background(), network) // leave no subnet taken
	})
	waitNodeReadyB(b, client, node)
	if _, err := rt.EnsureNetwork(ctx, network, subnet); err != nil {
		b.Fatalf("pod network: %v", err)
	}
	select {
	case err := <-done:
		b.Fatalf("agent stopped: %v", err)
	case <-time.After(time.Second):
	}

	var viaPod, byHand []time.Duration
	b.ResetTimer()
	for i := -1; i < runs; i++ { // run -1 warms up both paths
		d := podStartup(b, client, rt, node, fmt.Sprintf("start-%d", i+1))
		h := handStartup(b, rt, node, network, i+1)
		if i >= 0 {
			viaPod, byHand = append(viaPod, d), append(byHand, h)
		}
	}
	b.StopTimer()
	p50, p99 := percentile(viaPod, 50), percentile(viaPod, 99)
	h50, h99 := percentile(byHand, 50), percentile(byHand, 99)
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(h50), "docker-p50-ms")
	b.ReportMetric(ms(h99), "docker-p99-ms")
	b.ReportMetric(float64(p50)/float64(h50), "ratio-p50")
	b.ReportMetric(float64(p99)/float64(h99), "ratio-p99")
	b.Logf("pod create → Running: p50 %s p99 %s; by hand: p50 %s p99 %s; ratio p50 %.2f (target ≤ 1.3), pod p99 %s (target < 1s)",
		p50, p99, h50, h99, float64(p50)/float64(h50), p99)
}

// podStartup creates a pod on node and returns how long until a watch shows it Running; then
// deletes it and waits until its containers are gone.
func podStartup(b *testing.B, client kubernetes.Interface, rt *docker.Runtime, node, name string) time.Duration {
	b.Helper()
	ctx := context.Background()
	pods := client.CoreV1().Pods("default")
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	pod := benchServerPod(name)
	pod.Spec.NodeName = node
	start := time.Now()
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var took time.Duration
	timeout := time.After(60 * time.Second)
	for took == 0 {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatal("watch closed")
			}
			if p, isPod := ev.Object.(*corev1.Pod); isPod && ev.Type == watch.Modified && p.Status.Phase == corev1.PodRunning {
				took = time.Since(start)
			}
		case <-timeout:
			b.Fatalf("pod %s not Running within 60s", name)
		}
	}
	zero := int64(0)
	if err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cs, err := rt.List(ctx, map[string]string{LabelPodUID: string(created.UID)})
		if err == nil && len(cs) == 0 {
			return took
		}
		if time.Now().After(deadline) {
			b.Fatalf("containers of pod %s still there 30s after its deletion", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// handStartup creates and starts a pause container on network and a testserver joining its
// network namespace through the Docker API, returns how long that took, and removes both.
func handStartup(b *testing.B, rt *docker.Runtime, node, network string, i int) time.Duration {
	b.Helper()
	ctx := context.Background()
	cli := rt.Client()
	labels := map[string]string{benchLabel: node}
	start := time.Now()
	infra, err := cli.ContainerCreate(ctx, &dc.Config{Image: benchPauseImage, Labels: labels},
		&dc.HostConfig{NetworkMode: dc.NetworkMode(network)}, nil, nil, fmt.Sprintf("bench_pause_%s_%d", node, i))
	if err != nil {
		b.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, infra.ID, dc.StartOptions{}); err != nil {
		b.Fatal(err)
	}
	app, err := cli.ContainerCreate(ctx, &dc.Config{Image: benchServerImage, Labels: labels, Env: []string{"PORT=8080"}},
		&dc.HostConfig{NetworkMode: dc.NetworkMode("container:" + infra.ID)}, nil, nil, fmt.Sprintf("bench_server_%s_%d", node, i))
	if err != nil {
		b.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, app.ID, dc.StartOptions{}); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	for _, id := range []string{app.ID, infra.ID} {
		if err := cli.ContainerRemove(ctx, id, dc.RemoveOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
	}
	return took
}

// removeLabelled force-removes the engine's containers carrying labels.
func removeLabelled(rt *docker.Runtime, labels map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, _ := rt.List(ctx, labels)
	for _, c := range cs {
		_ = rt.Remove(ctx, c.ID)
	}
}

func waitNodeReadyB(b *testing.B, client kubernetes.Interface, node string) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if n, err := client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{}); err == nil && nodeReady(n) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("node %s not Ready within 60s", node)
}
