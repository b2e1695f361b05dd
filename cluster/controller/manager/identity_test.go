package manager_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/drover-ci/drover/cluster/apiserver/apiservertest"
	"github.com/drover-ci/drover/cluster/controller"
	"github.com/drover-ci/drover/cluster/controller/manager"
	"github.com/drover-ci/drover/cluster/rbac"
	"github.com/drover-ci/drover/internal/logtest"
	"github.com/drover-ci/drover/internal/uptest"
)

// forbiddenLog records log lines that report a 403.
type forbiddenLog struct {
	mu    sync.Mutex
	lines []string
}

func (f *forbiddenLog) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "forbidden") {
		f.mu.Lock()
		f.lines = append(f.lines, string(p))
		f.mu.Unlock()
	}
	return len(p), nil
}

// TestControllerManagerAsItsOwnUser: with RBAC on, the controller manager running as user
// system:kube-controller-manager (the identity drover's default roles bind) leads through its
// Lease, rolls a Deployment out to pods and aggregates the default ClusterRoles, and is never
// refused.
func TestControllerManagerAsItsOwnUser(t *testing.T) {
	srv := apiservertest.Start(t)
	cfg := rest.CopyConfig(srv.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:kube-controller-manager"}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := kubernetes.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &forbiddenLog{}
	go func() {
		_ = manager.Run(ctx, manager.Config{Logger: slogTo(logs), Client: client, Identity: "cm"})
	}()
	replicas := int32(2)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: appsv1.DeploymentSpec{
		Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
	if _, err := admin.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 60*time.Second, "the Deployment's pods and the aggregated view role", func() bool {
		pods, err := admin.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"app": "web"}.String()})
		view, verr := admin.RbacV1().ClusterRoles().Get(ctx, "view", metav1.GetOptions{})
		return err == nil && len(pods.Items) == 2 && verr == nil && len(view.Rules) > 0
	})
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.lines) > 0 {
		t.Errorf("the controller manager was refused:\n%s", strings.Join(logs.lines, ""))
	}
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// whoController asks the API server who its client is (SelfSubjectReview) and reports it.
type whoController struct {
	name   string
	client kubernetes.Interface
	seen   chan<- string
}

func (w whoController) Name() string { return w.name }
func (w whoController) Run(ctx context.Context) error {
	r, err := w.client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		w.seen <- w.name + ": " + err.Error()
	} else {
		w.seen <- w.name + ": " + r.Status.UserInfo.Username
	}
	<-ctx.Done()
	return nil
}

// TestControllerWithItsOwnClient: a controller named in Config.Clients acts as that client's
// user (the Jenkins cloud provider as system:drover:jenkins-provider), the others as the
// manager's.
func TestControllerWithItsOwnClient(t *testing.T) {
	srv := apiservertest.Start(t)
	client := impersonating(t, srv.Config, "system:kube-controller-manager")
	own := impersonating(t, srv.Config, rbac.JenkinsProvider)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan string, 2)
	who := func(name string) controller.Constructor {
		return func(cc controller.Context) (controller.Controller, error) {
			return whoController{name: name, client: cc.Client, seen: seen}, nil
		}
	}
	go func() {
		_ = manager.Run(ctx, manager.Config{Logger: logtest.New(t), Client: client, Identity: "cm",
			Controllers: map[string]controller.Constructor{"shared": who("shared"), "own": who("own")},
			Clients:     map[string]kubernetes.Interface{"own": own}})
	}()
	got := map[string]bool{}
	for range 2 {
		select {
		case s := <-seen:
			got[s] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("the controllers did not report within 30 s (got %v)", got)
		}
	}
	if want := []string{"shared: system:kube-controller-manager", "own: " + rbac.JenkinsProvider}; !got[want[0]] || !got[want[1]] {
		t.Errorf("controllers saw %v; want %v", got, want)
	}
}

func impersonating(t *testing.T, cfg *rest.Config, name string) kubernetes.Interface {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: name}
	k, err := kubernetes.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// leaseCounter counts the requests for Leases that pass.
type leaseCounter struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *leaseCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/leases") {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}

func countingClient(t *testing.T, cfg *rest.Config) (kubernetes.Interface, *leaseCounter) {
	t.Helper()
	c := rest.CopyConfig(cfg)
	lc := &leaseCounter{}
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { lc.next = rt; return lc }
	k, err := kubernetes.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return k, lc
}

// TestLeaseClient: with a LeaseClient, the leader election's requests go through it, none
// through the controllers' client.
func TestLeaseClient(t *testing.T) {
	srv := apiservertest.Start(t)
	client, main := countingClient(t, srv.Config)
	leaseClient, own := countingClient(t, srv.Config)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	led := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = manager.Run(ctx, manager.Config{Logger: logtest.New(t), Client: client, LeaseClient: leaseClient, Identity: "cm",
			LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 100 * time.Millisecond,
			Controllers: map[string]controller.Constructor{"who": func(cc controller.Context) (controller.Controller, error) {
				return ledController{led}, nil
			}}})
	}()
	select {
	case <-led:
	case <-time.After(30 * time.Second):
		t.Fatal("the manager did not lead within 30 s")
	}
	time.Sleep(500 * time.Millisecond) // a few renewals
	cancel()
	<-done
	if n := main.n.Load(); n != 0 {
		t.Errorf("the controllers' client made %d Lease requests", n)
	}
	if n := own.n.Load(); n < 2 {
		t.Errorf("the lease client made %d Lease requests, want the election's", n)
	}
}

type ledController struct{ led chan struct{} }

func (ledController) Name() string { return "who" }
func (l ledController) Run(ctx context.Context) error {
	close(l.led)
	<-ctx.Done()
	return nil
}
