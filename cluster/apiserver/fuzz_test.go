package apiserver_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/store/memstore"
)

// fuzzHandler is an API server over memstore without authentication, with the default
// namespaces and a pod "base" to patch.
func fuzzHandler(t testing.TB) http.Handler {
	t.Helper()
	srv, err := apiserver.New(apiserver.Config{Store: memstore.New()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	// The default ServiceAccount pods need (no controller runs here).
	if code, body := serve(h, http.MethodPost, "/api/v1/namespaces/default/serviceaccounts", "application/json", []byte(`{"metadata":{"name":"default"}}`)); code != http.StatusCreated {
		t.Fatalf("create the default ServiceAccount: %d %s", code, body)
	}
	base := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"base","labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}`
	if code, body := serve(h, http.MethodPost, "/api/v1/namespaces/default/pods", "application/json", []byte(base)); code != http.StatusCreated {
		t.Fatalf("create base pod: %d %s", code, body)
	}
	return h
}

func serve(h http.Handler, method, path, contentType string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

var fuzzSeeds = []string{
	// valid objects
	`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"ok"},"spec":{"containers":[{"name":"c","image":"busybox","ports":[{"containerPort":80}]}]}}`,
	`{"metadata":{"generateName":"g-"},"spec":{"containers":[{"name":"c","image":"i","env":[{"name":"A","value":"$(B)"}]}]}}`,
	`{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"rc"},"spec":{"replicas":2,"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
	`{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc"},"spec":{"type":"NodePort","selector":{"app":"x"},"ports":[{"name":"http","port":8080,"targetPort":"http","nodePort":30080}]}}`,
	"apiVersion: v1\nkind: Pod\nmetadata:\n  name: y\nspec:\n  containers:\n  - name: c\n    image: i\n",
	// malformed JSON and YAML
	``, ` `, `{`, `}`, `null`, `[]`, `"pod"`, `42`, `{"metadata":`, "{\"a\":\"\xff\xfe\"}",
	"apiVersion: v1\nkind: [Pod\n", "- a\n- b: [\n", "a: &x [*x]\n", ":\n:\n",
	`{"apiVersion":"v1","apiVersion":"v2"}`,
	// huge and odd numbers
	`{"metadata":{"name":"n"},"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":1e400}]}]}}`,
	`{"metadata":{"name":"n"},"spec":{"replicas":99999999999999999999999,"template":null}}`,
	`{"metadata":{"name":"n"},"spec":{"terminationGracePeriodSeconds":-9223372036854775808,"containers":[{"name":"c","image":"i"}]}}`,
	`{"metadata":{"name":"n"},"spec":{"activeDeadlineSeconds":0,"containers":[{"name":"c","image":"i","ports":[{"containerPort":-1,"hostPort":70000}]}]}}`,
	`{"metadata":{"name":"n"},"spec":{"containers":[{"name":"c","image":"i","resources":{"limits":{"cpu":"1e1000","memory":"-1Ei"},"requests":{"cpu":"abc"}}}]}}`,
	`{"metadata":{"name":"n","generation":-5,"resourceVersion":"x","uid":"u","deletionTimestamp":"2000-01-01T00:00:00Z"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
	`{"metadata":{"name":"n","creationTimestamp":"not a time"}}`,
	// nested nulls and wrong types
	`{"metadata":null,"spec":null,"status":null}`,
	`{"metadata":{"name":"n","labels":null,"ownerReferences":[null]},"spec":{"containers":[null],"volumes":[null]}}`,
	`{"metadata":{"name":"n"},"spec":{"containers":[{"name":null,"image":null,"ports":[null],"env":[null],"livenessProbe":{}}]}}`,
	`{"metadata":{"name":"n"},"spec":{"template":{"metadata":null,"spec":{"containers":null}},"selector":null}}`,
	`{"metadata":{"name":"n"},"spec":{"ports":[{"port":80,"targetPort":{"x":1}}],"clusterIP":"999.1.1.1"}}`,
	`{"metadata":{"name":"n"},"spec":{"ports":[{"port":80,"targetPort":"this-name-is-far-too-long-for-a-port"}],"type":"LoadBalancer","externalTrafficPolicy":"?"}}`,
	`{"metadata":{"name":[1,2]},"spec":"x"}`,
	`{"metadata":{"name":"n","labels":{"a/b/c":"d","":"","k":"` + strings.Repeat("v", 100) + `"}}}`,
	`{"metadata":{"name":"` + strings.Repeat("a", 300) + `"}}`,
	`{"metadata":{"generateName":"` + strings.Repeat("b", 300) + `"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
	`{"metadata":{"name":"n","namespace":"elsewhere"}}`,
	`{"metadata":{"name":"n"},"spec":{"volumes":[{"name":"v","hostPath":{"path":""},"emptyDir":{"sizeLimit":"-1"}}],"containers":[{"name":"c","image":"i","volumeMounts":[{"name":"missing","mountPath":""}]}]}}`,
	`{"metadata":{"name":"n"},"spec":{"containers":[{"name":"c","image":"i","livenessProbe":{"httpGet":{"port":"nope"},"exec":{"command":[]},"periodSeconds":-1}}]}}`,
	// found by fuzzing: a strategic merge patch whose merge key is a list panicked
	`{"00000000":{"0000":"0"},"spec":{"000000000000000000000":0,"containers":[{"name":[]}]}}`,
	`{"spec":{"containers":[{"name":{"a":1}}],"volumes":[{"name":[1]}]}}`,
	strings.Repeat("[", 100000) + strings.Repeat("]", 100000),
	strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000),
}

// FuzzCreateBody sends arbitrary bytes as a create body (JSON and YAML) for pods, replication
// controllers and services, and as an update and patches of an existing pod. No request may be
// answered with a 5xx, and nothing may panic.
func FuzzCreateBody(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		type call struct{ method, path, contentType string }
		calls := []call{
			{http.MethodPut, "/api/v1/namespaces/default/pods/base", "application/json"},
			{http.MethodPatch, "/api/v1/namespaces/default/pods/base", "application/merge-patch+json"},
			{http.MethodPatch, "/api/v1/namespaces/default/pods/base", "application/strategic-merge-patch+json"},
			{http.MethodPatch, "/api/v1/namespaces/default/pods/base", "application/json-patch+json"},
			{http.MethodPatch, "/api/v1/namespaces/default/pods/base/status", "application/merge-patch+json"},
		}
		for _, res := range []string{"pods", "replicationcontrollers", "services"} {
			for _, ct := range []string{"application/json", "application/yaml"} {
				calls = append(calls, call{http.MethodPost, "/api/v1/namespaces/default/" + res, ct},
					call{http.MethodPost, "/api/v1/namespaces/default/" + res + "?fieldValidation=Strict", ct})
			}
		}
		for _, c := range calls {
			code, out := serve(h, c.method, c.path, c.contentType, body)
			if code >= 500 {
				t.Errorf("%s %s (%s): %d %s", c.method, c.path, c.contentType, code, out)
			}
		}
	})
}
