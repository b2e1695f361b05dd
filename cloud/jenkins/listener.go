package jenkins

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Headers of GET /tcpSlaveAgentListener/ (Jenkins 2.376).
const (
	headerJNLPPort  = "X-Jenkins-JNLP-Port"
	headerProtocols = "X-Jenkins-Agent-Protocols"
	headerIdentity  = "X-Instance-Identity"
)

// ProtocolJNLP4 is the protocol inbound TCP agents speak.
const ProtocolJNLP4 = "JNLP4-connect"

// AgentListener is what GET /tcpSlaveAgentListener/ tells about the
// controller's TCP agent port. WebSocket agents need none of it.
type AgentListener struct {
	// Enabled is false when the endpoint answers 404 (TCP agent port disabled).
	Enabled bool
	// Port is X-Jenkins-JNLP-Port.
	Port int
	// Protocols is X-Jenkins-Agent-Protocols split on ',' and trimmed.
	Protocols []string
	// InstanceIdentity is X-Instance-Identity ("" when absent: the
	// instance-identity plugin is not installed).
	InstanceIdentity string
}

// OffersJNLP4 reports whether inbound TCP agents can connect: the port is
// enabled, JNLP4-connect is offered and the controller has an instance
// identity (without it agents fail with "invalid X-Instance-Identity").
func (l AgentListener) OffersJNLP4() bool {
	return l.Enabled && slices.Contains(l.Protocols, ProtocolJNLP4) && l.InstanceIdentity != ""
}

// AgentListener implements Client.
func (g *Gojenkins) AgentListener(ctx context.Context) (AgentListener, error) {
	r := request{method: http.MethodGet, path: "/tcpSlaveAgentListener/"}
	resp, body, err := g.do(ctx, r)
	if err != nil {
		return AgentListener{}, fmt.Errorf("jenkins: agent listener: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return AgentListener{}, nil
	}
	if err := expect(r, resp, body, http.StatusOK); err != nil {
		return AgentListener{}, fmt.Errorf("jenkins: agent listener: %w", err)
	}
	return parseListener(resp.Header)
}

func parseListener(h http.Header) (AgentListener, error) {
	l := AgentListener{Enabled: true, InstanceIdentity: strings.TrimSpace(h.Get(headerIdentity))}
	if p := strings.TrimSpace(h.Get(headerJNLPPort)); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil {
			return AgentListener{}, fmt.Errorf("jenkins: agent listener: %s %q: %w", headerJNLPPort, p, err)
		}
		l.Port = port
	}
	for _, p := range strings.Split(h.Get(headerProtocols), ",") {
		if p = strings.TrimSpace(p); p != "" {
			l.Protocols = append(l.Protocols, p)
		}
	}
	return l, nil
}
