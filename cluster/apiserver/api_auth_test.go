package apiserver_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// caClient trusts only the CA in the server's kubeconfig and sends no credentials.
func caClient(t *testing.T, kubeconfig string) (*http.Client, string) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cluster := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cluster.CertificateAuthorityData) {
		t.Fatal("kubeconfig has no CA certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	token := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo].Token
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, token
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	srv, _ := startClient(t)
	hc, token := caClient(t, srv.Kubeconfig)
	if token == "" {
		t.Fatal("kubeconfig has no token")
	}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	cases := []struct {
		path string
		hdr  http.Header
		code int
	}{
		{"/api", nil, 401},
		{"/api/v1/namespaces/default/pods", nil, 401},
		{"/apis", nil, 401},
		{"/api/v1/namespaces", bearer("wrong"), 401},
		{"/api/v1/namespaces", http.Header{"Authorization": {"Basic " + token}}, 401},
		{"/api/v1/namespaces", bearer(token + "x"), 401},
		{"/healthz", nil, 200},
		{"/readyz", nil, 200},
		{"/version", nil, 200},
		{"/api", bearer(token), 200},
		{"/api/v1/namespaces", bearer(token), 200},
	}
	for _, c := range cases {
		r := doWith(t, hc, http.MethodGet, srv.URL+c.path, "", nil, c.hdr)
		if r.code != c.code {
			t.Errorf("GET %s (auth %q): %d, want %d", c.path, c.hdr.Get("Authorization"), r.code, c.code)
			continue
		}
		if c.code == 401 {
			st := r.status(t)
			if st.Reason != metav1.StatusReasonUnauthorized {
				t.Errorf("GET %s: 401 with reason %q", c.path, st.Reason)
			}
		}
	}
	// Writes are refused too, and store nothing.
	body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"sneaky"}}`
	if r := doWith(t, hc, http.MethodPost, srv.URL+"/api/v1/namespaces/default/configmaps", "application/json", []byte(body), nil); r.code != 401 {
		t.Errorf("unauthenticated POST: %d", r.code)
	}
	r := doWith(t, hc, http.MethodGet, srv.URL+"/api/v1/namespaces/default/configmaps/sneaky", "", nil, bearer(token))
	if r.code != 404 {
		t.Errorf("unauthenticated POST stored an object: GET answered %d", r.code)
	}
}

func TestTLSVerifiedWithKubeconfigCA(t *testing.T) {
	t.Parallel()
	srv, _ := startClient(t)
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("server URL %q is not HTTPS", srv.URL)
	}
	hc, _ := caClient(t, srv.Kubeconfig)
	r := doWith(t, hc, http.MethodGet, srv.URL+"/version", "", nil, nil)
	var info map[string]interface{}
	if r.code != 200 || json.Unmarshal(r.body, &info) != nil || info["gitVersion"] == nil {
		t.Errorf("/version over verified TLS: %d %s", r.code, r.body)
	}
	// A client trusting only the system roots must refuse the certificate.
	plain := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	resp, err := plain.Get(srv.URL + "/version")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a client without the CA accepted the server certificate")
	}
	// Plain HTTP is not served.
	resp, err = plain.Get("http://" + strings.TrimPrefix(srv.URL, "https://") + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP answered %d", resp.StatusCode)
		}
	}
}

func TestTableOutput(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	for _, n := range []string{"t1", "t2"} {
		if _, err := cs.CoreV1().Pods("default").Create(ctx, newPod(n, map[string]string{"t": "y"}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().ReplicationControllers("default").Create(ctx, newRC("rct", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hc, token := caClient(t, srv.Kubeconfig)
	hdr := http.Header{"Authorization": {"Bearer " + token},
		"Accept": {"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"}}
	for _, c := range []struct {
		path  string
		rows  []string
		first []string // leading column names
	}{
		{"/api/v1/namespaces/default/pods", []string{"t1", "t2"}, []string{"Name", "Ready", "Status", "Restarts", "Age"}},
		{"/api/v1/namespaces/default/pods?labelSelector=t%3Dy&fieldSelector=metadata.name%3Dt2", []string{"t2"}, []string{"Name"}},
		{"/api/v1/namespaces/default/pods/t1", []string{"t1"}, []string{"Name"}},
		{"/api/v1/namespaces/default/replicationcontrollers", []string{"rct"}, []string{"Name", "Desired", "Current", "Ready", "Age"}},
		{"/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dnone", nil, []string{"Name"}},
		{"/api/v1/namespaces", []string{"default", "kube-node-lease", "kube-public", "kube-system"}, []string{"Name", "Status", "Age"}},
	} {
		r := doWith(t, hc, http.MethodGet, srv.URL+c.path, "", nil, hdr)
		if r.code != 200 {
			t.Errorf("GET %s as Table: %d %s", c.path, r.code, r.body)
			continue
		}
		var tbl metav1.Table
		if err := json.Unmarshal(r.body, &tbl); err != nil || tbl.Kind != "Table" || tbl.APIVersion != "meta.k8s.io/v1" {
			t.Errorf("GET %s: not a meta.k8s.io/v1 Table (%v): %.200s", c.path, err, r.body)
			continue
		}
		if tbl.ResourceVersion == "" {
			t.Errorf("GET %s: Table without resourceVersion", c.path)
		}
		if len(tbl.ColumnDefinitions) < len(c.first) {
			t.Errorf("GET %s: columns %+v", c.path, tbl.ColumnDefinitions)
			continue
		}
		for i, name := range c.first {
			if tbl.ColumnDefinitions[i].Name != name {
				t.Errorf("GET %s: column %d is %q, want %q", c.path, i, tbl.ColumnDefinitions[i].Name, name)
			}
		}
		var rows []string
		for _, row := range tbl.Rows {
			if len(row.Cells) != len(tbl.ColumnDefinitions) {
				t.Errorf("GET %s: row has %d cells for %d columns", c.path, len(row.Cells), len(tbl.ColumnDefinitions))
			}
			name, _ := row.Cells[0].(string)
			rows = append(rows, name)
			var pm metav1.PartialObjectMetadata
			if err := json.Unmarshal(row.Object.Raw, &pm); err != nil || pm.Name != name {
				t.Errorf("GET %s: row object %q for row %q (%v)", c.path, pm.Name, name, err)
			}
		}
		if strings.Join(rows, ",") != strings.Join(c.rows, ",") {
			t.Errorf("GET %s: rows %v, want %v", c.path, rows, c.rows)
		}
	}
}
