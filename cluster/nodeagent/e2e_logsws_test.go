package nodeagent_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/websocket"
	"k8s.io/client-go/rest"
)

// pods/log over a WebSocket, as the conformance suite reads it ("should support retrieving
// logs from the container over websockets"): each message a piece of the log, raw with the
// binary.k8s.io subprotocol, base64 with base64.binary.k8s.io; the stream ends with the log.
func TestE2ELogsOverWebSocket(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	e.create(testPod("wslog", shellCmd("c", "echo container is alive; exec sleep 3600")))
	e.waitRunning("wslog")
	e.poll(15e9, "the log line written", func() (bool, string) {
		out, err := e.kubectl("logs", "wslog")
		return out == "container is alive\n", out + errString(err)
	})
	for _, tc := range []struct {
		protocol string
		decode   func(string) string
	}{
		{"binary.k8s.io", func(s string) string { return s }},
		{"base64.binary.k8s.io", func(s string) string {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Errorf("base64 message %q: %v", s, err)
			}
			return string(b)
		}},
	} {
		got := e.wsLog(t, "/api/v1/namespaces/default/pods/wslog/log?container=c", tc.protocol)
		var log strings.Builder
		for _, m := range got {
			log.WriteString(tc.decode(m))
		}
		if log.String() != "container is alive\n" {
			t.Errorf("%s: log %q (messages %q)", tc.protocol, log.String(), got)
		}
	}
}

// wsLog opens path on the API server as a WebSocket with protocol and returns its messages
// until the server closes it.
func (e *e2e) wsLog(t *testing.T, path, protocol string) []string {
	t.Helper()
	cfg := e.srv.Config
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wsCfg, err := websocket.NewConfig(strings.Replace(cfg.Host, "https://", "wss://", 1)+path, "http://localhost")
	if err != nil {
		t.Fatal(err)
	}
	wsCfg.Protocol = []string{protocol}
	wsCfg.TlsConfig = tlsCfg
	wsCfg.Header = http.Header{"Authorization": {"Bearer " + cfg.BearerToken}}
	ws, err := websocket.DialConfig(wsCfg)
	if err != nil {
		t.Fatalf("%s: dial: %v", protocol, err)
	}
	defer ws.Close()
	var msgs []string
	for {
		var m []byte
		if err := websocket.Message.Receive(ws, &m); err != nil {
			if err != io.EOF {
				t.Errorf("%s: receive: %v", protocol, err)
			}
			return msgs
		}
		if len(m) > 0 {
			msgs = append(msgs, string(m))
		}
	}
}
