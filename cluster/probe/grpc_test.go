package probe

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	corev1 "k8s.io/api/core/v1"
)

// grpcServer serves on a loopback port, with the health service when withHealth; it records
// the User-Agent of health checks.
func grpcServer(t *testing.T, withHealth bool) (int, *health.Server, chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agents := make(chan string, 10)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if _, ok := peer.FromContext(ctx); ok && len(md.Get("user-agent")) > 0 {
			agents <- md.Get("user-agent")[0]
		}
		return h(ctx, req)
	}))
	hs := health.NewServer()
	if withHealth {
		healthpb.RegisterHealthServer(srv, hs)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return l.Addr().(*net.TCPAddr).Port, hs, agents
}

func TestGRPC(t *testing.T) {
	ctx := context.Background()
	port, hs, agents := grpcServer(t, true)
	hs.SetServingStatus("jenkins", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("down", healthpb.HealthCheckResponse_NOT_SERVING)

	if r, msg, err := GRPC(ctx, "127.0.0.1", port, "", time.Second); r != Success || msg != "service healthy" || err != nil {
		t.Errorf("overall health: %v %q %v", r, msg, err)
	}
	if ua := <-agents; !strings.HasPrefix(ua, "kube-probe/1.32") {
		t.Errorf("User-Agent %q", ua)
	}
	if r, _, _ := GRPC(ctx, "127.0.0.1", port, "jenkins", time.Second); r != Success {
		t.Errorf("SERVING service: %v", r)
	}
	if r, msg, _ := GRPC(ctx, "127.0.0.1", port, "down", time.Second); r != Failure || msg != `service unhealthy (responded with "NOT_SERVING")` {
		t.Errorf("NOT_SERVING service: %v %q", r, msg)
	}
	if r, msg, _ := GRPC(ctx, "127.0.0.1", port, "unknown", time.Second); r != Failure || !strings.Contains(msg, "NotFound") {
		t.Errorf("unknown service: %v %q", r, msg)
	}

	bare, _, _ := grpcServer(t, false)
	if r, msg, _ := GRPC(ctx, "127.0.0.1", bare, "", time.Second); r != Failure ||
		!strings.HasPrefix(msg, "this server does not implement the grpc health protocol (grpc.health.v1.Health)") {
		t.Errorf("no health service: %v %q", r, msg)
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if r, msg, err := GRPC(ctx, "127.0.0.1", closed, "", 500*time.Millisecond); r != Failure || err != nil || msg == "" {
		t.Errorf("closed port: %v %q %v", r, msg, err)
	}

	// Through the Prober, as a pod's probe names it.
	svc := "jenkins"
	p := &corev1.Probe{TimeoutSeconds: 1, ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: int32(port), Service: &svc}}}
	if r, _, err := (Real{}).Probe(ctx, p, Target{PodIP: "127.0.0.1"}); r != Success || err != nil {
		t.Errorf("Real.Probe grpc: %v %v", r, err)
	}
}
