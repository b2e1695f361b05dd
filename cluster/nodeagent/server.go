package nodeagent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"time"
)

// APIServerClientName is the common name of the client certificate the API server presents
// to node agents (issued from drover's CA; cluster/apiserver's KubeletClientName). The agent's
// server accepts no other caller.
const APIServerClientName = "drover-apiserver-kubelet-client"

// ServerTLS is what the agent's HTTPS server needs: its serving certificate and the CA that
// issued the API server's client certificate.
type ServerTLS struct {
	// Cert is the serving certificate. Without one, Issue (when set) is asked for one naming
	// the node's name and InternalIP (drover up: the CA in the same process); else the agent
	// makes a self-signed one, which an API server that verifies node certificates against
	// drover's CA refuses.
	Cert  *tls.Certificate
	Issue func(cn string, hosts []string) (tls.Certificate, error)
	// ClientCA verifies callers: only a certificate it issued with the common name
	// ClientName (default APIServerClientName) is let in.
	ClientCA   *x509.CertPool
	ClientName string
}

// Handler is the agent's HTTP API as the API server calls it (kubelet's paths). It does no
// authentication itself: serve it behind the TLS configuration of tlsConfig, as Run does.
//
// Adding a route: one line in routes below, a handler method on *Agent in a file of its own.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	a.routes(mux)
	return mux
}

// routes lists the agent's endpoints, one a line.
func (a *Agent) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", a.handleLogs)
	mux.HandleFunc("/exec/{namespace}/{pod}/{container}", a.handleExec)
	mux.HandleFunc("/attach/{namespace}/{pod}/{container}", a.handleAttach)
	mux.HandleFunc("/portForward/{namespace}/{pod}", a.handlePortForward)
	a.RegisterMetrics(mux) // GET /metrics/resource (resourcemetrics.go)
}

// serve runs the HTTPS server on cfg.Port until ctx ends.
func (a *Agent) serve(ctx context.Context) {
	tc, err := a.tlsConfig()
	if err != nil {
		a.log.Error("node agent server not started", "port", a.cfg.Port, "err", err)
		return
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(a.cfg.Port)))
	if err != nil {
		a.log.Error("node agent server not started", "port", a.cfg.Port, "err", err)
		return
	}
	srv := &http.Server{Handler: a.Handler(), TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	a.log.Info("node agent serving HTTPS", "port", a.cfg.Port)
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) && ctx.Err() == nil {
		a.log.Error("node agent server stopped", "port", a.cfg.Port, "err", err)
	}
}

// tlsConfig requires a client certificate from cfg.TLS.ClientCA naming the API server: an
// anonymous caller, or one with another name or CA (a pod on this node, say), fails the
// handshake.
func (a *Agent) tlsConfig() (*tls.Config, error) {
	st := a.cfg.TLS
	if st.ClientCA == nil {
		return nil, errors.New("no client CA to verify the API server with")
	}
	cert := st.Cert
	if cert == nil && st.Issue != nil {
		c, err := st.Issue(a.cfg.NodeName, []string{a.cfg.NodeName, a.hostIP, "localhost", "127.0.0.1"})
		if err != nil {
			return nil, fmt.Errorf("serving certificate: %w", err)
		}
		cert = &c
	}
	if cert == nil {
		c, err := selfSigned(a.cfg.NodeName, a.hostIP)
		if err != nil {
			return nil, err
		}
		cert = &c
	}
	name := st.ClientName
	if name == "" {
		name = APIServerClientName
	}
	return &tls.Config{
		Certificates: []tls.Certificate{*cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    st.ClientCA,
		MinVersion:   tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || cs.PeerCertificates[0].Subject.CommonName != name {
				return fmt.Errorf("client certificate is not the API server's (%s)", name)
			}
			return nil
		},
	}, nil
}

// selfSigned makes a serving certificate for node and ip, signed by itself.
func selfSigned(node, ip string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("serving key: %w", err)
	}
	sn, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: node},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{node}}
	if p := net.ParseIP(ip); p != nil {
		tmpl.IPAddresses = []net.IP{p}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed serving certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
