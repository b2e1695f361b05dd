package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// TestServerFlagsRefusedWhereIgnored: flags that would be accepted and do nothing are refused
// with an error naming them, before anything starts.
func TestServerFlagsRefusedWhereIgnored(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"server", "--contention-profiling"}, "--contention-profiling"},
		{[]string{"up", "--contention-profiling"}, "--contention-profiling"},
		{[]string{"server", "--event-ttl", "0s"}, "--event-ttl 0s: must be positive"},
		{[]string{"up", "--upload-certs"}, "--upload-certs is a drover server flag"},
		{[]string{"up", "--certificate-key-file", "/nonexistent"}, "--certificate-key-file is a drover server flag"},
	} {
		dir := t.TempDir()
		var out, errOut bytes.Buffer
		args := append(tc.args, "--data-dir", dir, "--listen", "127.0.0.1:0")
		err := Run(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("drover %s: err = %v, want it to name %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestNodeJoinFlagsRefusedWhereIgnored: drover node refuses two bootstrap tokens (--token and
// --token-file) and --certificate-authority without a bootstrap token (the kubeconfig's CA
// would be used and the flag ignored).
func TestNodeJoinFlagsRefusedWhereIgnored(t *testing.T) {
	file := t.TempDir() + "/token"
	if err := os.WriteFile(file, []byte("abcdef.0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o := &nodeOptions{tokenFile: file}
	if _, err := o.clusterConfig(ctx, &clientFlags{token: "abcdef.0123456789abcdef", server: "https://127.0.0.1:1"}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "--token and --token-file") {
		t.Errorf("--token with --token-file: err = %v", err)
	}
	o = &nodeOptions{caFile: file}
	if _, err := o.clusterConfig(ctx, &clientFlags{kubeconfig: "/nonexistent"}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "--certificate-authority goes with --token") {
		t.Errorf("--certificate-authority without a bootstrap token: err = %v", err)
	}
}
