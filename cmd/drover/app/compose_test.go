package app

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/internal/uptest"
)

// runFor runs the drover command line until it returns or d passes.
func runFor(t *testing.T, d time.Duration, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var out, errOut bytes.Buffer
	err := Run(ctx, args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if ctx.Err() != nil {
		t.Fatalf("drover %s still ran after %v (err %v); it must exit when one of its parts fails\nstderr:\n%s",
			strings.Join(args, " "), d, err, errOut.String())
	}
	return errOut.String(), err
}

// A controller manager that cannot start (here: a CA file the certificate signer cannot
// load) ends `drover server` with that error, instead of leaving an API server running
// without controllers. (A bad --service-cidr no longer serves: the API server itself refuses
// it before the controllers start, since it allocates cluster IPs.)
func TestServerFailsWholeWhenControllersFail(t *testing.T) {
	bogus := filepath.Join(t.TempDir(), "bogus-ca.crt")
	if err := os.WriteFile(bogus, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr, err := runFor(t, 60*time.Second, "server", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0",
		"--store", "memory://", "--cluster-signing-cert-file", bogus, "--cluster-signing-key-file", bogus)
	if err == nil || !strings.Contains(err.Error(), "csrsigner") {
		t.Fatalf("drover server: %v; want the csrsigner controller's error\nstderr:\n%s", err, stderr)
	}
	t.Logf("drover server: %v", err)
}

// When the node's cluster DNS server cannot serve (its port is taken), `drover up` ends with
// that error: the API server and controllers stop with it.
func TestUpFailsWholeWhenDNSFails(t *testing.T) {
	uptest.CheckDocker(t)
	const dnsAddr = "127.0.0.153"
	udp, err1 := net.ListenPacket("udp", dnsAddr+":53")
	tcp, err2 := net.Listen("tcp", dnsAddr+":53")
	if err := errors.Join(err1, err2); err != nil {
		uptest.RequireE2E(t, "cannot take "+dnsAddr+":53 for the test: "+err.Error())
	}
	defer udp.Close()
	defer tcp.Close()
	uptest.OwnNetwork(t, "drover-compose-test") // drover up makes it before its DNS server fails
	stderr, err := runFor(t, 90*time.Second, "up", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0",
		"--controllers=false", "--proxy=false", "--cluster-dns", dnsAddr, "--log-port", "0",
		"--node-name", "compose-test", "--network", "drover-compose-test", "--subnet", "10.63.0.0/24")
	if err == nil || !strings.Contains(err.Error(), dnsAddr+":53") {
		t.Fatalf("drover up: %v; want the DNS server's listen error naming %s:53\nstderr:\n%s", err, dnsAddr, stderr)
	}
	t.Logf("drover up: %v", err)
}
