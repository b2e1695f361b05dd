package proxy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// served waits until addr answers at all and returns the first answer.
func served(t *testing.T, addr string) string {
	t.Helper()
	var got string
	eventually(t, func() string {
		if got = get(addr, ""); strings.HasPrefix(got, "error") {
			return "GET " + addr + ": " + got
		}
		return ""
	})
	return got
}

func TestRoundRobin(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	startProxy(t, Config{}, service("jenkins", "127.96.0.5", httpPort), endpoints("jenkins", a, b))
	const addr = "127.96.0.5:8080"
	prev := served(t, addr)
	count := map[string]int{}
	for range 6 {
		got := get(addr, "")
		if got == prev {
			t.Errorf("%q twice in a row, want round robin", got)
		}
		count[got]++
		prev = got
	}
	if diff := cmp.Diff(map[string]int{"a": 3, "b": 3}, count); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

func TestClientIPAffinity(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	svc := service("jenkins", "127.96.0.6", httpPort)
	svc.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	startProxy(t, Config{}, svc, endpoints("jenkins", a, b))
	served(t, "127.96.0.6:8080")
	first := map[string]string{}
	for range 4 {
		for _, client := range []string{"127.0.0.2", "127.0.0.3"} {
			got := get("127.96.0.6:8080", client)
			if first[client] == "" {
				first[client] = got
			}
			if got != first[client] {
				t.Errorf("client %s: %q after %q, want the same backend", client, got, first[client])
			}
		}
	}
	if first["127.0.0.2"] == first["127.0.0.3"] {
		t.Errorf("both clients on %q, want round robin between new clients", first["127.0.0.2"])
	}
}

func TestFollowsEndpointsWithinASecond(t *testing.T) {
	a, b, c := backend(t, "a"), backend(t, "b"), backend(t, "c")
	client, _ := startProxy(t, Config{}, service("jenkins", "127.96.0.7", httpPort), endpoints("jenkins", a, b))
	const addr = "127.96.0.7:8080"
	served(t, addr)
	start := time.Now()
	_, err := client.CoreV1().Endpoints("default").Update(context.Background(), endpoints("jenkins", c), metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitServed(t, addr, "c")
	if took := time.Since(start); took > time.Second {
		t.Errorf("new endpoints served after %v, want within 1s", took)
	}
	for range 4 {
		if got := get(addr, ""); got != "c" {
			t.Errorf("GET after the change: %q, want c", got)
		}
	}
	// No ready endpoints: connections are closed.
	if _, err := client.CoreV1().Endpoints("default").Update(context.Background(), endpoints("jenkins"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		if got := get(addr, ""); !strings.HasPrefix(got, "error") {
			return fmt.Sprintf("GET without endpoints: %q, want an error", got)
		}
		return ""
	})
}

func TestRefusedBackendSkipped(t *testing.T) {
	a := backend(t, "a")
	startProxy(t, Config{}, service("jenkins", "127.96.0.8", httpPort), endpoints("jenkins", freePort(t), a))
	served(t, "127.96.0.8:8080")
	for range 6 {
		if got := get("127.96.0.8:8080", ""); got != "a" {
			t.Errorf("GET: %q, want a (the other backend refuses)", got)
		}
	}
}

func TestNodePort(t *testing.T) {
	a := backend(t, "a")
	np := freePort(t)
	svc := service("jenkins", "127.96.0.9", httpPort)
	svc.Spec.Type, svc.Spec.Ports[0].NodePort = corev1.ServiceTypeNodePort, np
	client, _ := startProxy(t, Config{NodePortAddress: "127.0.0.1"}, svc, endpoints("jenkins", a))
	nodeAddr := "127.0.0.1:" + strconv.Itoa(int(np))
	waitServed(t, nodeAddr, "a")
	waitServed(t, "127.96.0.9:8080", "a")

	svc.Spec.Type, svc.Spec.Ports[0].NodePort = corev1.ServiceTypeClusterIP, 0
	if _, err := client.CoreV1().Services("default").Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		if got := get(nodeAddr, ""); !strings.Contains(got, "connection refused") {
			return fmt.Sprintf("node port after the change to ClusterIP: %q, want connection refused", got)
		}
		return ""
	})
	waitServed(t, "127.96.0.9:8080", "a")
}

func TestServiceLifecycle(t *testing.T) {
	a := backend(t, "a")
	headless := service("agents", corev1.ClusterIPNone, httpPort)
	client, addrs := startProxy(t, Config{}, headless, endpoints("jenkins", a))
	ctx := context.Background()
	svc := service("jenkins", "127.96.0.10", httpPort)
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitServed(t, "127.96.0.10:8080", "a")

	svc.Spec.Ports[0].Port = 8081
	if _, err := client.CoreV1().Services("default").Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitServed(t, "127.96.0.10:8081", "a")
	if got := get("127.96.0.10:8080", ""); !strings.Contains(got, "connection refused") {
		t.Errorf("old port: %q, want connection refused", got)
	}

	if err := client.CoreV1().Services("default").Delete(ctx, "jenkins", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		if got := get("127.96.0.10:8081", ""); !strings.Contains(got, "connection refused") {
			return fmt.Sprintf("deleted service: %q, want connection refused", got)
		}
		return ""
	})
	eventually(t, func() string {
		if diff := cmp.Diff([]string{"add 127.96.0.10", "remove 127.96.0.10"}, addrs.get()); diff != "" {
			return "address calls (-want +got):\n" + diff
		}
		return ""
	})
}
