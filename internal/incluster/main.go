// Command incluster-test is the in-pod check of issue 14, run as the test image
// drover/incluster-test:1 (scripts/images.sh). Every --interval it builds a client with
// client-go's rest.InClusterConfig() (the kube-api-access volume's token and CA, the kubernetes
// Service's KUBERNETES_SERVICE_HOST/PORT), lists the pods of its namespace, gets the Secret
// --secret, creates a pod with dryRun=All (authorized as a create, stored nowhere), and lists
// the pods again with no credential at all, printing one line per round:
//
//	round=3 token=1a2b3c4d5e6f auth=9f8e7d6c5b4a pods=403 secret=403 create=403 anonymous=401
//
// token is a fingerprint (SHA-256 prefix) of the token file, "none" when the pod has none; auth
// is a fingerprint of the Authorization header client-go sent in the round (client-go re-reads
// the token file, so a rotated token shows up as a new auth); neither is the token. Without an
// in-cluster configuration (no token file) pods, secret and create are asked anonymously too. A status
// of 0 means no HTTP answer (the error goes to stderr).
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// saDir is where the kube-api-access volume is mounted.
const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	ns := flag.String("namespace", "", "namespace to list pods in (default: the token volume's namespace file, else $POD_NAMESPACE, else default)")
	secret := flag.String("secret", "", "name of a Secret in the namespace to get (none: the secret check reports 0 and is skipped)")
	interval := flag.Duration("interval", 2*time.Second, "time between rounds")
	rounds := flag.Int("rounds", 0, "rounds to run (0: until killed)")
	flag.Parse()
	if *ns == "" {
		*ns = namespace()
	}
	c := &checker{ns: *ns, secret: *secret}
	ctx := context.Background()
	for i := 1; *rounds == 0 || i <= *rounds; i++ {
		if i > 1 {
			time.Sleep(*interval)
		}
		fmt.Println(c.round(ctx, i))
	}
}

func namespace() string {
	if b, err := os.ReadFile(saDir + "/namespace"); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b))
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "default"
}

// checker keeps one client for its whole life, as an in-cluster program does: client-go
// re-reads the token file behind it (about once a minute), so a rotated token reaches it.
type checker struct {
	ns, secret string
	cs         kubernetes.Interface
	auth       lastAuth
}

// round runs the checks once and returns the line to print.
func (c *checker) round(ctx context.Context, n int) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	token := "none"
	if b, err := os.ReadFile(saDir + "/token"); err == nil {
		token = fingerprint(string(b))
	}
	podsPath := "/api/v1/namespaces/" + c.ns + "/pods"
	secretPath := "/api/v1/namespaces/" + c.ns + "/secrets/" + c.secret
	anon := anonymous(ctx, http.MethodGet, podsPath)
	if c.cs == nil {
		cfg, err := rest.InClusterConfig()
		if err == nil {
			cfg.Wrap(c.auth.wrap)
			c.cs, err = kubernetes.NewForConfig(cfg)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "round %d: in-cluster client: %v\n", n, err)
		}
	}
	var pods, sec, create int
	c.auth.reset()
	if c.cs == nil {
		pods = anonymous(ctx, http.MethodGet, podsPath)
		if c.secret != "" {
			sec = anonymous(ctx, http.MethodGet, secretPath)
		}
		create = anonymous(ctx, http.MethodPost, podsPath+"?dryRun=All")
	} else {
		rc := c.cs.CoreV1().RESTClient()
		pods = status(ctx, n, rc.Get().AbsPath(podsPath))
		if c.secret != "" {
			sec = status(ctx, n, rc.Get().AbsPath(secretPath))
		}
		create = status(ctx, n, rc.Post().AbsPath(podsPath).Param("dryRun", "All").
			SetHeader("Content-Type", "application/json").Body([]byte(probePod)))
	}
	return fmt.Sprintf("round=%d token=%s auth=%s pods=%d secret=%d create=%d anonymous=%d", n, token, c.auth.get(), pods, sec, create, anon)
}

// status is the HTTP status of the request (0: no answer, the error on stderr).
func status(ctx context.Context, n int, r *rest.Request) int {
	code := 0
	res := r.Do(ctx).StatusCode(&code)
	if code == 0 {
		fmt.Fprintf(os.Stderr, "round %d: %v\n", n, res.Error())
	}
	return code
}

// probePod is the pod a create is tried with (dry run: never stored, never run).
const probePod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"incluster-probe"},"spec":{"containers":[{"name":"c","image":"drover/incluster-test:1"}]}}`

// anonymous sends method path (a create of probePod for POST) to the API server through the
// kubernetes Service with no credential. The server's certificate is checked against the volume's ca.crt when the pod
// has one; without it there is nothing to protect (no credential is sent) and it is not.
func anonymous(ctx context.Context, method, path string) int {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		fmt.Fprintln(os.Stderr, "anonymous: KUBERNETES_SERVICE_HOST/PORT not set")
		return 0
	}
	tlsCfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // no credential is sent
	if pem, err := os.ReadFile(saDir + "/ca.crt"); err == nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tlsCfg = &tls.Config{RootCAs: pool}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(probePod)
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://"+net.JoinHostPort(host, port)+path, body)
	if err == nil && body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "anonymous: %v\n", err)
		return 0
	}
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "anonymous: %v\n", err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// lastAuth remembers the fingerprint of the last Authorization header client-go sent.
type lastAuth struct {
	mu sync.Mutex
	fp string
}

func (a *lastAuth) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if h := req.Header.Get("Authorization"); h != "" {
			a.mu.Lock()
			a.fp = fingerprint(h)
			a.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

func (a *lastAuth) reset() {
	a.mu.Lock()
	a.fp = ""
	a.mu.Unlock()
}

func (a *lastAuth) get() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fp == "" {
		return "none"
	}
	return a.fp
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// fingerprint is the first 12 hex digits of s's SHA-256: enough to tell tokens apart, nothing
// to authenticate with.
func fingerprint(s string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(s)))
	return hex.EncodeToString(sum[:])[:12]
}
