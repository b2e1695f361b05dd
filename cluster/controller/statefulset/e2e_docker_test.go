package statefulset_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/drover-ci/drover/internal/uptest"
)

// kubectl runs the real kubectl against a drover up.
type kubectl struct {
	t          testing.TB
	kubeconfig string
}

func (k *kubectl) run(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (k *kubectl) must(args ...string) string {
	k.t.Helper()
	out, err := k.run("", args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (k *kubectl) apply(manifest string) {
	k.t.Helper()
	if out, err := k.run(manifest, "apply", "-f", "-"); err != nil {
		k.t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// podEvent is one pod change seen by the watch, in the API server's order.
type podEvent struct {
	typ      watch.EventType
	name     string
	uid      string
	ready    bool // Running and Ready
	deleting bool // has a deletion timestamp
}

// recorder keeps the watch's pod events.
type recorder struct {
	mu     sync.Mutex
	events []podEvent
}

func (r *recorder) all() []podEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

const stsManifest = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - name: http
    port: 8080
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: drover/testserver:1
        ports:
        - name: http
          containerPort: 8080
        readinessProbe:
          httpGet:
            path: /healthz
            port: 8080
          periodSeconds: 1
        volumeMounts:
        - name: data
          mountPath: /data
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
`

// pvManifest is a hostPath PersistentVolume under dir: drover has no dynamic provisioner, so
// the claims bind to volumes made beforehand (as for the Jenkins home).
func pvManifest(name, dir string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata:
  name: %s
spec:
  capacity:
    storage: 1Gi
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath:
    path: %s
    type: DirectoryOrCreate
`, name, dir)
}

// TestStatefulSetOnDocker is the check with drover up on the real Docker engine and
// the real kubectl: a StatefulSet of 3 with volumeClaimTemplates comes up in order (each pod
// Running and Ready before the next is created, as the watch saw it), each pod with its claim;
// web-1.web resolves from another pod; a deleted web-1 comes back with the same claim and the
// data written before; a rolling update with a partition replaces only the ordinals above it,
// with rollout status, history and undo; scaling to 1 removes web-2, then web-1, and keeps
// their claims.
func TestStatefulSetOnDocker(t *testing.T) {
	env := uptest.Start(t, uptest.Options{Name: "sts", Subnet: "10.81.0.0/16", ServiceCIDR: "10.82.0.0/16",
		ClusterDNS: "10.83.0.10", NodePortRange: "30800-30999", NeedKubectl: true, Images: []string{"drover/testserver:1"}})
	k := &kubectl{t: t, kubeconfig: env.Kubeconfig}
	cs := env.Client
	ctx := t.Context()

	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		k.apply(pvManifest(fmt.Sprintf("sts-pv-%d", i), filepath.Join(dir, fmt.Sprintf("pv-%d", i))))
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	rec := &recorder{}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rec.mu.Lock()
			rec.events = append(rec.events, podEvent{typ: ev.Type, name: p.Name, uid: string(p.UID),
				ready: p.Status.Phase == corev1.PodRunning && podReady(p), deleting: p.DeletionTimestamp != nil})
			rec.mu.Unlock()
		}
	}()

	k.apply(stsManifest)
	if out, err := k.run("", "rollout", "status", "sts/web", "--timeout=3m"); err != nil {
		t.Fatalf("rollout status: %v\n%s", err, out)
	} else if !strings.Contains(out, "partitioned roll out complete") && !strings.Contains(out, "rolling update complete") {
		t.Errorf("rollout status said:\n%s", out)
	}

	// Order: each pod was added only after the watch had seen the one before Running and Ready.
	evs := rec.all()
	var added []string
	for _, ev := range evs {
		if ev.typ == watch.Added {
			added = append(added, ev.name)
		}
	}
	if !slices.Equal(added, []string{"web-0", "web-1", "web-2"}) {
		t.Fatalf("pods added in the order %v, want web-0 web-1 web-2", added)
	}
	for i := 1; i < 3; i++ {
		prevReady := slices.IndexFunc(evs, func(e podEvent) bool { return e.name == fmt.Sprintf("web-%d", i-1) && e.ready })
		add := slices.IndexFunc(evs, func(e podEvent) bool { return e.name == fmt.Sprintf("web-%d", i) && e.typ == watch.Added })
		if prevReady < 0 || prevReady > add {
			t.Errorf("web-%d was added (event %d) before web-%d was Running and Ready (event %d)", i, add, i-1, prevReady)
		}
	}
	st := k.must("get", "sts", "web", "-o", "jsonpath={.status.replicas} {.status.readyReplicas} {.status.currentReplicas} {.status.updatedReplicas} {.status.availableReplicas}")
	if st != "3 3 3 3 3" {
		t.Errorf("status replicas ready current updated available = %q, want 3 3 3 3 3", st)
	}

	// Each pod has its claim, bound.
	claimUID := map[string]string{}
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("data-web-%d", i)
		out := k.must("get", "pvc", name, "-o", "jsonpath={.status.phase} {.metadata.uid}")
		f := strings.Fields(out)
		if len(f) != 2 || f[0] != "Bound" {
			t.Errorf("claim %s: %q, want Bound", name, out)
		} else {
			claimUID[name] = f[1]
		}
		if got := k.must("get", "pod", fmt.Sprintf("web-%d", i), "-o", "jsonpath={.spec.volumes[?(@.name=='data')].persistentVolumeClaim.claimName}"); got != name {
			t.Errorf("web-%d mounts claim %q, want %s", i, got, name)
		}
	}

	// DNS: web-1.web (search path) and the full name resolve, from web-0, to web-1's address.
	ip0, ip1 := podIP(t, k, "web-0"), podIP(t, k, "web-1")
	for _, name := range []string{"web-1.web", "web-1.web.default.svc.cluster.local"} {
		var got string
		uptest.Eventually(t, 30*time.Second, name+" resolving to "+ip1+" in web-0", func() bool {
			got = httpDo(http.MethodGet, "http://"+ip0+":8080/lookup?n=1&name="+name)
			return strings.Contains(got, "addrs=["+ip1+"]")
		})
	}

	// The container's hostname is the pod's spec.hostname.
	if env := httpDo(http.MethodGet, "http://"+ip0+":8080/env"); !strings.Contains(env, "HOSTNAME=web-0\n") {
		t.Errorf("web-0's environment lacks HOSTNAME=web-0:\n%s", env)
	}

	// A deleted web-1 comes back as web-1 with the same claim and the data written before.
	if got := httpDo(http.MethodPost, "http://"+ip1+":8080/write?path=/data/hello&data=kept-by-web-1"); got != "" {
		t.Fatalf("write to web-1: %q", got)
	}
	oldUID := k.must("get", "pod", "web-1", "-o", "jsonpath={.metadata.uid}")
	k.must("delete", "pod", "web-1")
	uptest.Eventually(t, 90*time.Second, "a new web-1 Running and Ready", func() bool {
		out, err := k.run("", "get", "pod", "web-1", "-o", `jsonpath={.metadata.uid} {.status.phase} {.status.conditions[?(@.type=="Ready")].status}`)
		f := strings.Fields(out)
		return err == nil && len(f) == 3 && f[0] != oldUID && f[1] == "Running" && f[2] == "True"
	})
	if got := k.must("get", "pvc", "data-web-1", "-o", "jsonpath={.metadata.uid}"); got != claimUID["data-web-1"] {
		t.Errorf("data-web-1 is a new claim (%s, was %s)", got, claimUID["data-web-1"])
	}
	ip1 = podIP(t, k, "web-1")
	if got := httpDo(http.MethodGet, "http://"+ip1+":8080/file?path=/data/hello"); got != "kept-by-web-1" {
		t.Errorf("the new web-1 reads %q from its volume, want kept-by-web-1", got)
	}

	// RollingUpdate with partition 2: only web-2 gets the new template; undo takes it back.
	uids := map[string]string{}
	for i := 0; i < 3; i++ {
		uids[fmt.Sprintf("web-%d", i)] = k.must("get", "pod", fmt.Sprintf("web-%d", i), "-o", "jsonpath={.metadata.uid}")
	}
	k.must("patch", "sts", "web", "-p", `{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}`)
	k.must("set", "env", "sts/web", "VERSION=2")
	out := k.must("rollout", "status", "sts/web", "--timeout=2m")
	if !strings.Contains(out, "partitioned roll out complete: 1 new pods have been updated") {
		t.Errorf("partitioned rollout status said:\n%s", out)
	}
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("web-%d", i)
		uid := k.must("get", "pod", name, "-o", "jsonpath={.metadata.uid}")
		env := k.must("get", "pod", name, "-o", `jsonpath={.spec.containers[0].env[?(@.name=="VERSION")].value}`)
		if i < 2 && (uid != uids[name] || env != "") {
			t.Errorf("%s below the partition was replaced (uid %s → %s, VERSION=%q)", name, uids[name], uid, env)
		}
		if i == 2 && (uid == uids[name] || env != "2") {
			t.Errorf("%s above the partition not updated (VERSION=%q)", name, env)
		}
	}
	hist := k.must("rollout", "history", "sts/web")
	if !strings.Contains(hist, "\n1 ") || !strings.Contains(hist, "\n2 ") {
		t.Errorf("rollout history lacks revisions 1 and 2:\n%s", hist)
	}
	k.must("rollout", "undo", "sts/web")
	uptest.Eventually(t, 2*time.Minute, "web-2 back without VERSION after undo", func() bool {
		out, err := k.run("", "get", "pod", "web-2", "-o", `jsonpath={.status.phase}/{.spec.containers[0].env[?(@.name=="VERSION")].value}/{.status.conditions[?(@.type=="Ready")].status}`)
		return err == nil && out == "Running//True"
	})
	if hist := k.must("rollout", "history", "sts/web"); !strings.Contains(hist, "\n3 ") {
		t.Errorf("after undo, rollout history lacks revision 3:\n%s", hist)
	}

	// Scale to 1: web-2 goes, then web-1; the claims stay.
	from := len(rec.all())
	k.must("scale", "sts", "web", "--replicas=1")
	uptest.Eventually(t, 2*time.Minute, "web-1 and web-2 deleted", func() bool {
		out, _ := k.run("", "get", "pods", "-l", "app=web", "-o", "name")
		return strings.TrimSpace(out) == "pod/web-0"
	})
	evs = rec.all()[from:]
	gone2 := slices.IndexFunc(evs, func(e podEvent) bool { return e.name == "web-2" && e.typ == watch.Deleted })
	start1 := slices.IndexFunc(evs, func(e podEvent) bool { return e.name == "web-1" && (e.deleting || e.typ == watch.Deleted) })
	if gone2 < 0 || start1 < 0 || start1 < gone2 {
		t.Errorf("web-1's deletion began at event %d, web-2 was gone at event %d: want web-2 gone first", start1, gone2)
	}
	for name, uid := range claimUID {
		if got := k.must("get", "pvc", name, "-o", "jsonpath={.metadata.uid}"); got != uid {
			t.Errorf("claim %s: uid %q, want %s kept", name, got, uid)
		}
	}
	if st := k.must("get", "sts", "web", "-o", "jsonpath={.status.replicas}/{.status.readyReplicas}"); st != "1/1" {
		t.Errorf("status after scaling to 1: %s", st)
	}

	helmWait(t, env.Kubeconfig)
}

// helmWait: helm --wait waits for a StatefulSet's new pod (upgrade changing an env var replaces
// the pod before helm returns) and fails when the new pod cannot become Ready (a missing image).
func helmWait(t *testing.T, kubeconfig string) {
	helm := uptest.RequireHelm(t)
	chart := t.TempDir()
	files := map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: cache\nversion: 0.1.0\n",
		"values.yaml": "image: drover/testserver:1\nversion: \"1\"\n",
		"templates/sts.yaml": `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: cache
spec:
  serviceName: cache
  replicas: 1
  selector:
    matchLabels: {app: cache}
  template:
    metadata:
      labels: {app: cache}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: cache
        image: {{ .Values.image }}
        env: [{name: VERSION, value: {{ .Values.version | quote }}}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
`,
	}
	for name, body := range files {
		p := filepath.Join(chart, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, helm, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	k := &kubectl{t: t, kubeconfig: kubeconfig}
	if out, err := run("install", "cache", chart, "--wait", "--timeout", "2m"); err != nil {
		t.Fatalf("helm install --wait: %v\n%s", err, out)
	}
	if got := k.must("get", "pod", "cache-0", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`); got != "True" {
		t.Errorf("helm install --wait returned with cache-0 Ready=%q", got)
	}
	if out, err := run("upgrade", "cache", chart, "--set", "version=2", "--wait", "--timeout", "2m"); err != nil {
		t.Fatalf("helm upgrade --wait: %v\n%s", err, out)
	}
	got := k.must("get", "pod", "cache-0", "-o", `jsonpath={.spec.containers[0].env[0].value}/{.status.conditions[?(@.type=="Ready")].status}`)
	if got != "2/True" {
		t.Errorf("helm upgrade --wait returned with cache-0 at VERSION/Ready %q, want 2/True", got)
	}
	out, err := run("upgrade", "cache", chart, "--set", "image=drover/missing:1", "--wait", "--timeout", "20s")
	if err == nil {
		t.Errorf("helm upgrade --wait to a missing image succeeded:\n%s", out)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podIP(t *testing.T, k *kubectl, name string) string {
	t.Helper()
	ip := k.must("get", "pod", name, "-o", "jsonpath={.status.podIP}")
	if ip == "" {
		t.Fatalf("pod %s has no IP", name)
	}
	return ip
}

// httpDo calls a pod from the host (the pod network is the host's Docker bridge); it returns
// the body of a 2xx answer, else the status or error as text.
func httpDo(method, url string) string {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return err.Error()
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return resp.Status + ": " + string(b)
	}
	return string(b)
}
