package app

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const twoDocs = `# the jenkins pod
apiVersion: v1
kind: Pod
metadata:
  name: jenkins
spec:
  containers: [{name: jenkins, image: jenkins}]
---
# comments only
---
apiVersion: v1
kind: Service
metadata: {name: jenkins, namespace: ci}
`

const listJSON = `{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"a"}},
 {"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","namespace":"ignored"}}]}`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func docSummary(docs []document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.obj.GetNamespace()+"/"+d.ref())
	}
	return out
}

func TestLoadDocuments(t *testing.T) {
	c := newFakeAPI(t).clients(t)
	dir := writeFiles(t, map[string]string{
		"a.yaml":       twoDocs,
		"b.json":       listJSON,
		"notes.txt":    "not a manifest",
		"sub/job.yaml": "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n",
	})
	docs, err := c.loadDocuments(fileFlags{filenames: []string{dir}}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"default/pod/jenkins", "ci/service/jenkins", "default/replicationcontroller/a", "/node/n1"}
	if d := cmp.Diff(want, docSummary(docs)); d != "" {
		t.Errorf("documents (-want +got):\n%s", d)
	}
	docs, err = c.loadDocuments(fileFlags{filenames: []string{dir}, recursive: true}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := docSummary(docs); len(got) != 5 || got[4] != "default/job.batch/j" {
		t.Errorf("recursive documents = %v", got)
	}
	docs, err = c.loadDocuments(fileFlags{filenames: []string{"-"}}, strings.NewReader(listJSON), "")
	if err != nil || len(docs) != 2 {
		t.Errorf("stdin: %d documents, err %v", len(docs), err)
	}
}

func TestLoadDocumentsRejectsWholeFile(t *testing.T) {
	c := newFakeAPI(t).clients(t)
	good := "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\n---\n"
	tests := map[string]struct{ doc, want string }{
		"malformed":     {"apiVersion: v1\nkind: Pod\nmetadata: [name: x\n", "bad.yaml: document 2"},
		"unknown kind":  {"apiVersion: v1\nkind: Widget\nmetadata: {name: w}\n", `document 2 (Widget "w"): resource mapping not found for apiVersion "v1", kind "Widget"`},
		"wrong version": {"apiVersion: v2\nkind: Pod\nmetadata: {name: p}\n", `document 2 (Pod "p"): resource mapping not found for apiVersion "v2"`},
		"no kind":       {"apiVersion: v1\nmetadata: {name: p}\n", "document 2: Object 'Kind' is missing"},
		"no name":       {"apiVersion: v1\nkind: Pod\nmetadata: {}\n", "resource name may not be empty"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"bad.yaml": good + tt.doc})
			docs, err := c.loadDocuments(fileFlags{filenames: []string{filepath.Join(dir, "bad.yaml")}}, nil, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			if docs != nil {
				t.Errorf("got %d documents despite the error", len(docs))
			}
		})
	}
}

func TestLoadDocumentsNamespaceMismatch(t *testing.T) {
	c := newFakeAPI(t).clients(t)
	_, err := c.loadDocuments(fileFlags{filenames: []string{"-"}}, strings.NewReader(twoDocs), "prod")
	if err == nil || !strings.Contains(err.Error(), `namespace from the provided object "ci" does not match the namespace "prod"`) {
		t.Errorf("error = %v", err)
	}
}

// writeKubeconfig points a kubeconfig at the fake API.
func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	dir := writeFiles(t, map[string]string{"config": `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + server + `", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: secret}}]
contexts: [{name: ctx, context: {cluster: c, user: u, namespace: team}}]
current-context: ctx
`})
	return filepath.Join(dir, "config")
}

// A file with one bad document creates nothing, even though its other documents are fine.
func TestCreateNothingWhenOneDocumentIsBad(t *testing.T) {
	api := newFakeAPI(t)
	kc := writeKubeconfig(t, api.URL)
	dir := writeFiles(t, map[string]string{"x.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: Widget\nmetadata: {name: w}\n"})
	var out, errOut bytes.Buffer
	err := Run(t.Context(), []string{"create", "--kubeconfig", kc, "-f", dir}, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if err == nil || !strings.Contains(err.Error(), "x.yaml: document 2") {
		t.Fatalf("error = %v", err)
	}
	if got := api.recorded(); len(got) != 0 {
		t.Errorf("requests sent despite the bad document: %v", got)
	}
}

func TestCreateSendsEveryDocument(t *testing.T) {
	api := newFakeAPI(t)
	var auth string
	echo := func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = w.Write(body.Bytes())
	}
	api.handle("POST /api/v1/namespaces/team/pods", echo)
	api.handle("POST /api/v1/namespaces/ci/services", echo)
	kc := writeKubeconfig(t, api.URL)
	var out bytes.Buffer
	err := Run(t.Context(), []string{"create", "--kubeconfig", kc, "-f", "-"}, Streams{In: strings.NewReader(twoDocs), Out: &out, ErrOut: &out})
	if err != nil {
		t.Fatal(err)
	}
	if want := "pod/jenkins created\nservice/jenkins created\n"; out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
	if auth != "Bearer secret" {
		t.Errorf("Authorization = %q", auth)
	}
}
