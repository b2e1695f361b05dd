package hatest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cluster/store/consulstore/consultest"
	"github.com/drover-ci/drover/internal/hatest"
)

// probe writes ConfigMaps one after the other and classifies the answers.
type probe struct {
	t      testing.TB
	cs     kubernetes.Interface
	ns     string
	n      int
	acked  []string
	errors map[string]int // "CODE reason" → count
}

// create makes one ConfigMap; a failure must be a 503 naming the store, which is counted.
// client-go would retry a 503 with Retry-After up to 10 times: the probe does not, so that
// the answer itself is seen.
func (p *probe) create() error {
	p.n++
	name := fmt.Sprintf("probe-%05d", p.n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
	err := p.cs.CoreV1().RESTClient().Post().Namespace(p.ns).Resource("configmaps").Body(cm).MaxRetries(0).Do(ctx).Error()
	if err == nil {
		p.acked = append(p.acked, name)
		return nil
	}
	p.checkUnavailable(err)
	code := int32(0)
	if se, ok := err.(apierrors.APIStatus); ok {
		code = se.Status().Code
	}
	p.errors[fmt.Sprintf("%d %s", code, apierrors.ReasonForError(err))]++
	return err
}

// checkUnavailable fails the test unless err is the API's 503 for an unreachable store, with a
// message that says so and names Consul's answer.
func (p *probe) checkUnavailable(err error) {
	p.t.Helper()
	msg := err.Error()
	if !apierrors.IsServiceUnavailable(err) || !strings.Contains(msg, "unavailable") || !strings.Contains(msg, "consulstore") {
		p.t.Fatalf("a write while Consul has no leader failed with %v (503: %v), want a 503 naming the unavailable store",
			err, apierrors.IsServiceUnavailable(err))
	}
	if d, ok := err.(apierrors.APIStatus); ok && (d.Status().Details == nil || d.Status().Details.RetryAfterSeconds == 0) {
		p.t.Errorf("503 without retryAfterSeconds: %+v", d.Status())
	}
}

// A drover server on a three-server Consul cluster, talking to a follower: kill the Consul
// leader and writes go on once a new one is elected (any that fail in the gap are 503s); kill
// one more, so Consul has no quorum, and writes and reads fail with a clear 503; restart a
// server and writes succeed on retry; every acknowledged write is readable from both drover
// servers.
func TestConsulLeaderLoss(t *testing.T) {
	cc := consultest.StartCluster(t, 3)
	ctx := context.Background()
	leader, err := cc.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	follower := cc.Followers(leader)[0]
	c := hatest.Start(t, hatest.Options{Bin: droverBin, Servers: 2, Store: "consul://" + follower.Addr + "/" + prefix("consul")})
	cs := c.Client(c.Servers[0].Addr)
	if _, err := c.WaitLeader(ctx, nil, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	createNamespace(t, cs, "writes")
	p := &probe{t: t, cs: cs, ns: "writes", errors: map[string]int{}}
	for i := 0; i < 5; i++ {
		if err := p.create(); err != nil {
			t.Fatalf("write before any failure: %v", err)
		}
	}

	// 1. The Consul leader dies; a new one is elected among the two left.
	killed := time.Now()
	leader.Kill()
	var firstOK time.Duration
	for time.Since(killed) < 30*time.Second {
		if err := p.create(); err == nil && firstOK == 0 {
			firstOK = time.Since(killed)
		}
		if firstOK != 0 && time.Since(killed) > firstOK+2*time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if firstOK == 0 {
		t.Fatalf("no write succeeded within 30 s of killing the Consul leader; errors: %v", p.errors)
	}
	next, err := cc.WaitLeader(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Consul leader %s killed; %s leads; first write acknowledged %v after the kill; failures meanwhile: %v",
		leader.ServerAddr, next.ServerAddr, firstOK.Round(time.Millisecond), p.errors)

	// 2. One more server dies: no quorum, no leader. Writes and reads fail with 503.
	var second *consultest.Agent
	for _, a := range cc.Followers(nil) {
		if a != follower {
			second = a
		}
	}
	second.Kill()
	failures := 0
	for deadline := time.Now().Add(45 * time.Second); failures < 2 && time.Now().Before(deadline); {
		if p.create() != nil {
			failures++
		}
	}
	if failures < 2 {
		t.Fatalf("writes kept succeeding with one Consul server of three left")
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = cs.CoreV1().RESTClient().Get().Namespace("writes").Resource("configmaps").Name(p.acked[0]).MaxRetries(0).Do(rctx).Error()
	cancel()
	if err == nil {
		t.Error("a read succeeded on a Consul follower without a leader (default consistency forwards reads to the leader)")
	} else {
		p.checkUnavailable(err)
		t.Logf("read without a Consul leader: %v", err)
	}
	if err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").MaxRetries(0).Do(ctx).Error(); err == nil {
		t.Error("/readyz answered 200 while Consul has no leader")
	}

	// 3. A server comes back: quorum again, and a retried write succeeds.
	if err := second.Restart(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	if err := retry(60*time.Second, func(context.Context) error { return p.create() }); err != nil {
		t.Fatalf("writes still fail 60 s after Consul regained quorum: %v", err)
	}
	t.Logf("write acknowledged %v after the restart; answers while Consul had no quorum: %v",
		time.Since(back).Round(time.Millisecond), p.errors)
	if err := retry(30*time.Second, func(ctx context.Context) error {
		return cs.Discovery().RESTClient().Get().AbsPath("/readyz").MaxRetries(0).Do(ctx).Error()
	}); err != nil {
		t.Errorf("/readyz still failing 30 s after Consul regained quorum: %v", err)
	}

	// Every acknowledged write is readable from both drover servers, and they keep serving
	// writes and reads.
	for _, s := range c.Servers {
		scs := s.Client()
		for _, name := range p.acked {
			if err := retry(20*time.Second, func(ctx context.Context) error {
				_, err := scs.CoreV1().ConfigMaps("writes").Get(ctx, name, metav1.GetOptions{})
				return err
			}); err != nil {
				t.Errorf("server %d: acknowledged ConfigMap %s: %v", s.Index, name, err)
			}
		}
		if err := retry(20*time.Second, func(ctx context.Context) error {
			_, err := scs.CoreV1().ConfigMaps("writes").Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{GenerateName: "after-"}}, metav1.CreateOptions{})
			return err
		}); err != nil {
			t.Errorf("server %d: write after recovery: %v", s.Index, err)
		}
	}
	t.Logf("%d writes acknowledged, all readable from %d servers", len(p.acked), len(c.Servers))
}
