package nodeagent

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/drover-ci/drover/cluster/apiserver"
	"github.com/drover-ci/drover/cluster/container/hollow"
)

// The agent's HTTPS server lets in the API server's client certificate only: no certificate,
// a certificate from another CA, and one from drover's CA with another name (any client a pod
// could hold) all fail the TLS handshake. The names of the two packages' constants agree.
func TestServerAcceptsOnlyTheAPIServer(t *testing.T) {
	if APIServerClientName != apiserver.KubeletClientName {
		t.Fatalf("nodeagent.APIServerClientName %q != apiserver.KubeletClientName %q", APIServerClientName, apiserver.KubeletClientName)
	}
	pki, err := apiserver.LoadOrCreatePKI(t.TempDir(), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := apiserver.LoadOrCreatePKI(t.TempDir(), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{NodeName: "n1", Client: fake.NewClientset(), Runtime: hollow.New(hollow.Options{}),
		TLS: ServerTLS{ClientCA: pki.CAPool(), Issue: pki.IssueServing}})
	if err != nil {
		t.Fatal(err)
	}
	a.hostIP = "127.0.0.1"
	tc, err := a.tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.Handler(), ErrorLog: nil}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "https://" + ln.Addr().String()

	issue := func(p *apiserver.PKI, cn string) []tls.Certificate {
		c, err := p.IssueClient(cn)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{c}
	}
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"anonymous", nil, false},
		{"another CA", issue(other, APIServerClientName), false},
		{"drover's CA, another name", issue(pki, "system:serviceaccount:ci:default"), false},
		{"the API server", issue(pki, APIServerClientName), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.CAPool(), Certificates: tc.certs}}}
			for _, path := range []string{"/metrics/resource", "/containerLogs/default/p/c", "/attach/default/p/c?output=1", "/portForward/default/p"} {
				resp, err := c.Get(base + path)
				if err == nil {
					resp.Body.Close()
					if !tc.ok {
						t.Errorf("GET %s as %s answered %s, want the handshake refused", path, tc.name, resp.Status)
					}
				} else if tc.ok {
					t.Errorf("GET %s as the API server: %v", path, err)
				}
			}
			resp, err := c.Get(base + "/exec/default/p/c?command=true&output=1")
			if !tc.ok {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("GET as %s answered %s, want the handshake refused", tc.name, resp.Status)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET as the API server: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// Past TLS: the agent looks for the pod, which is not on this node.
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "not on node n1") {
				t.Errorf("GET as the API server = %s %q, want 404 naming the node", resp.Status, b)
			}
		})
	}
	// The serving certificate is drover's CA's, for the node's address.
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pki.CAPool(), ServerName: "127.0.0.1", Certificates: issue(pki, APIServerClientName)})
	if err != nil {
		t.Fatalf("serving certificate does not verify against drover's CA for 127.0.0.1: %v", err)
	}
	conn.Close()
}
