package hatest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cluster/store/consulstore/consultest"
	"github.com/drover-ci/drover/internal/hatest"
	"github.com/drover-ci/drover/internal/uptest"
)

// One drover server over Consul, with the Consul catalog controller on (the default for a
// consul:// store), loses its Lease: it is frozen past the lease duration, and when it wakes its
// fence ends the term. Every controller must return, so that it campaigns again and leads within
// the handover bound; then every controller works: an RC scaled afterwards gets its pods and a new
// Service appears in Consul's catalog. (Issue 19: the catalog controller stayed blocked in its
// queue's Get, and the manager waited for it for ever.)
func TestLostLeaseLeadsAgain(t *testing.T) {
	agent := consultest.Start(t)
	c := hatest.Start(t, hatest.Options{Bin: droverBin, Servers: 1, Store: "consul://" + agent.Addr + "/" + prefix("relead"),
		Args: []string{"--consul-catalog", agent.Addr}}) // the harness turns the catalog off by default
	cs := c.Client("")
	ctx := context.Background()
	srv, err := c.WaitLeader(ctx, nil, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.StartHollowNodes(t, "relead", 2)
	waitNodesReady(t, cs, 2)
	const ns, app = "default", "web"
	if err := retry(20*time.Second, func(ctx context.Context) error {
		_, err := cs.CoreV1().ReplicationControllers(ns).Create(ctx, rc(app, 2), metav1.CreateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := waitRunning(ctx, cs, ns, app, 2, nil, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	consul, err := consulapi.NewClient(&consulapi.Config{Address: agent.Addr})
	if err != nil {
		t.Fatal(err)
	}
	// The catalog controller is running and idle: the Service "kubernetes" is registered.
	waitCatalog(t, consul, "kubernetes", 30*time.Second)

	srv.Mark("pausing")
	srv.Pause()
	time.Sleep(13 * time.Second) // past the 10 s Lease
	srv.Mark("resumed")
	srv.Resume()
	resumed := time.Now()
	waitLog(t, srv, "resumed", "stopped leading", 15*time.Second)
	waitLog(t, srv, "resumed", "controller manager: leading", HandoverBound)
	t.Logf("leading again %v after resuming", time.Since(resumed).Round(time.Millisecond))

	if err := scale(cs, ns, app, 4); err != nil {
		t.Fatal(err)
	}
	if err := waitRunning(ctx, cs, ns, app, 4, nil, 30*time.Second); err != nil {
		t.Fatalf("the RC scaled after the lost Lease: %v", err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "after-relead"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": app}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	if err := retry(20*time.Second, func(ctx context.Context) error {
		_, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitCatalog(t, consul, "after-relead", 30*time.Second)
}

// waitLog waits until srv's log after the harness mark names text.
func waitLog(t *testing.T, srv *hatest.Server, mark, text string, timeout time.Duration) {
	t.Helper()
	uptest.Eventually(t, timeout, fmt.Sprintf("server %d to log %q after %q", srv.Index, text, mark),
		func() bool { return strings.Contains(after(srv.Log(), mark), text) })
}

// waitCatalog waits until Consul's catalog lists the service name.
func waitCatalog(t *testing.T, consul *consulapi.Client, name string, timeout time.Duration) {
	t.Helper()
	if err := retry(timeout, func(ctx context.Context) error {
		entries, _, err := consul.Catalog().Service(name, "", (&consulapi.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return fmt.Errorf("service %s not in the catalog", name)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
