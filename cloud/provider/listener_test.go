package provider

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/config"
	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"
)

// Item 3: against a controller without instance-identity a TCP template
// launches nothing and says why (status, one event); a WebSocket one runs.
func TestNoInstanceIdentity(t *testing.T) {
	ws := docker("ws")
	ws.Label = "ws"
	ws.Mode = config.ModeWebSocket
	f := newFixtureWith(t, &config.Config{Templates: []config.Template{docker("docker"), ws}},
		jenkinstest.Options{NoInstanceIdentity: true})
	f.queue("tcpjob", "docker", 1)
	f.queue("wsjob", "ws", 1)
	f.sync()
	f.step(time.Second)
	ps := f.pods()
	if len(ps) != 1 || ps[0].Labels[render.LabelTemplate] != "ws" {
		t.Fatalf("pods %d (want one websocket agent)", len(ps))
	}
	st := f.p.Status()
	if st.Listener == nil || st.Listener.JNLP4 {
		t.Errorf("listener %+v", st.Listener)
	}
	for _, q := range st.Queue {
		if q.Template == "docker" && !strings.Contains(q.Waiting, "install the instance-identity plugin, or set webSocket: true") {
			t.Errorf("tcp item waiting %q", q.Waiting)
		}
	}
	if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "template docker") {
		t.Errorf("warnings %q", st.Warnings)
	}
	n := 0
	for _, e := range f.events() {
		if strings.Contains(e, "TCPAgentsRefused") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d TCPAgentsRefused events over two polls, want 1", n)
	}
}

// ★ Caches through the API: the first agent gets a new claim and its
// volume (pre-bound, hostPath under cacheRoot), the second, launched while
// the first holds it, another; once both are gone the next reuses claim 0.
func TestCacheClaimsCreatedAndReused(t *testing.T) {
	tp := docker("docker")
	tp.Caches = []config.Cache{{Name: "m2", MountPath: "/home/jenkins/.m2", Size: resource.MustParse("1Gi")}}
	cfg := oneTemplate(tp)
	cfg.CacheRoot = "/srv/caches"
	f := newFixture(t, cfg)
	f.queue("job", "docker", 2)
	f.sync()
	claims := map[string]bool{}
	for _, p := range f.pods() {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				claims[v.PersistentVolumeClaim.ClaimName] = true
			}
		}
	}
	c0, c1 := render.CacheClaimName("docker", "m2", 0), render.CacheClaimName("docker", "m2", 1)
	if len(claims) != 2 || !claims[c0] || !claims[c1] {
		t.Fatalf("claims %v", claims)
	}
	pv, err := f.kube.CoreV1().PersistentVolumes().Get(f.ctx, c0, metav1.GetOptions{})
	if err != nil || pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != "/srv/caches/default/"+c0 || pv.Spec.ClaimRef.Name != c0 {
		t.Fatalf("volume %+v: %v", pv, err)
	}
	if _, err := f.kube.CoreV1().PersistentVolumeClaims("default").Get(f.ctx, c1, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range f.pods() {
		grace := int64(0)
		if err := f.kube.CoreV1().Pods("default").Delete(f.ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
			t.Fatal(err)
		}
	}
	f.step(time.Second) // the agents are gone: their items get new agents with the same claims
	got := map[string]bool{}
	for _, p := range f.pods() {
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				got[v.PersistentVolumeClaim.ClaimName] = true
			}
		}
	}
	if len(got) != 2 || !got[c0] || !got[c1] {
		t.Errorf("claims after the agents went %v, want %s and %s again", got, c0, c1)
	}
	list, _ := f.kube.CoreV1().PersistentVolumeClaims("default").List(f.ctx, metav1.ListOptions{LabelSelector: render.LabelCache})
	if len(list.Items) != 2 {
		t.Errorf("%d claims, want 2", len(list.Items))
	}
}
