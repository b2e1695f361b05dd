package apiserver_test

import (
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const podsPath = "/api/v1/namespaces/default/pods"

func TestBadInputStoresNothing(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	cases := []struct {
		name, path, contentType, body string
		code                          int
		cause                         string // a field the Status must name, if any
	}{
		{name: "malformed JSON", body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"`, code: 400},
		{name: "not an object", body: `[1,2,3]`, code: 400},
		{name: "malformed YAML", contentType: "application/yaml", body: "apiVersion: v1\nkind: Pod\nmetadata: {name: [x\n", code: 400},
		{name: "wrong apiVersion", body: `{"apiVersion":"v2","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"i"}]}}`, code: 400},
		{name: "wrong kind", body: `{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"i"}]}}`, code: 400},
		{name: "unknown kind", body: `{"apiVersion":"v1","kind":"Banana","metadata":{"name":"x"}}`, code: 400},
		{name: "missing image", body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c"}]}}`,
			code: 422, cause: "spec.containers[0].image"},
		{name: "upper-case name", body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Web"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
			code: 422, cause: "metadata.name"},
		{name: "duplicate containerPort", body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[` +
			`{"name":"a","image":"i","ports":[{"containerPort":80}]},{"name":"b","image":"i","ports":[{"containerPort":80}]}]}}`,
			code: 422, cause: "spec.containers[1].ports[0].containerPort"},
		{name: "no containers", body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{}}`, code: 422, cause: "spec.containers"},
		{name: "unknown field strict", path: podsPath + "?fieldValidation=Strict",
			body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"i"}],"bogus":1}}`, code: 400},
		{name: "duplicate field strict", path: podsPath + "?fieldValidation=Strict",
			body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","name":"y"},"spec":{"containers":[{"name":"c","image":"i"}]}}`, code: 400},
		{name: "wrong type", body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":"no"}}`, code: 400},
		{name: "empty body", body: ``, code: 400},
		{name: "namespace mismatch", body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","namespace":"kube-system"},"spec":{"containers":[{"name":"c","image":"i"}]}}`, code: 400},
	}
	for _, c := range cases {
		path := c.path
		if path == "" {
			path = podsPath
		}
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		r := doRaw(t, srv, http.MethodPost, path, ct, []byte(c.body))
		if r.code != c.code {
			t.Errorf("%s: code %d, want %d: %s", c.name, r.code, c.code, r.body)
			continue
		}
		st := r.status(t)
		if st.Kind != "Status" || st.Status != metav1.StatusFailure || int(st.Code) != c.code {
			t.Errorf("%s: Status %+v", c.name, st)
		}
		if c.cause != "" && !hasCause(st, c.cause) {
			t.Errorf("%s: causes %+v do not name %s", c.name, st.Details, c.cause)
		}
		if c.cause != "" && !strings.Contains(st.Message, c.cause) {
			t.Errorf("%s: message %q does not name %s", c.name, st.Message, c.cause)
		}
	}
	list, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("bad input stored pods: %v", names(list))
	}
}

func TestUnknownFieldWarnsByDefault(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	body := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"warned"},"spec":{"containers":[{"name":"c","image":"i","colour":"red"}]}}`
	r := doRaw(t, srv, http.MethodPost, podsPath, "application/json", []byte(body))
	if r.code != http.StatusCreated {
		t.Fatalf("create with unknown field: %d %s", r.code, r.body)
	}
	w := strings.Join(r.header.Values("Warning"), "; ")
	if !strings.HasPrefix(w, "299 ") || !strings.Contains(w, "colour") {
		t.Errorf("Warning header %q does not name the unknown field", w)
	}
	if _, err := cs.CoreV1().Pods("default").Get(ctx, "warned", metav1.GetOptions{}); err != nil {
		t.Errorf("pod with a warned field not stored: %v", err)
	}
	r = doRaw(t, srv, http.MethodPost, podsPath+"?fieldValidation=Ignore", "application/json", []byte(strings.Replace(body, "warned", "ignored", 1)))
	if r.code != http.StatusCreated || len(r.header.Values("Warning")) != 0 {
		t.Errorf("fieldValidation=Ignore: %d, warnings %q", r.code, r.header.Values("Warning"))
	}
}

func TestInvalidUpdateChangesNothing(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pod, err := cs.CoreV1().Pods("default").Create(ctx, newPod("keep", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := pod.DeepCopy()
	bad.Spec.Containers[0].Image = ""
	_, err = cs.CoreV1().Pods("default").Update(ctx, bad, metav1.UpdateOptions{})
	se := wantStatus(t, "update with empty image", err, 422)
	if !hasCause(se.ErrStatus, "spec.containers[0].image") {
		t.Errorf("causes %+v", se.ErrStatus.Details)
	}
	renamed := pod.DeepCopy()
	renamed.Name = "other"
	_, err = cs.CoreV1().Pods("default").Update(ctx, renamed, metav1.UpdateOptions{})
	if err == nil {
		t.Errorf("update renaming the object succeeded")
	}
	got, _ := cs.CoreV1().Pods("default").Get(ctx, "keep", metav1.GetOptions{})
	if got.ResourceVersion != pod.ResourceVersion || got.Spec.Containers[0].Image != "busybox:1.36" {
		t.Errorf("failed updates changed the pod: rv %s→%s image %q", pod.ResourceVersion, got.ResourceVersion, got.Spec.Containers[0].Image)
	}
}
