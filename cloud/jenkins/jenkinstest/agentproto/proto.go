// Package agentproto is the wire protocol between the fake Jenkins
// (cloud/jenkins/jenkinstest) and the test agent (agents/testagent). It
// stands in for remoting's JNLP4-connect: the HTTP discovery steps are the
// real ones (GET /tcpSlaveAgentListener/ and its headers, GET /wsagents/ with
// Node-Name and Secret-Key), what flows on the connection afterwards is this.
//
// The connection carries newline-delimited JSON Messages both ways.
//
//   - TCP (the agent port): the agent sends a Hello first; the fake answers
//     Welcome, or Error and closes (wrong secret, unknown node, already
//     connected).
//   - WebSocket (GET /wsagents/): the node and secret travel in the upgrade
//     request's headers; a refused agent gets HTTP 403 with the reason as
//     the body. After the upgrade the fake sends Welcome; no Hello.
//
// Then the fake sends Build messages (a build assigned to this agent, with
// its shell steps and environment) and Abort (POST /job/J/N/stop); the agent
// sends Log lines, one Result per build, and a Ping every 10 s (answered
// Pong; the fake drops an agent silent for 60 s). When the connection drops
// the node goes offline and its running builds end FAILURE; deleting the
// node closes the connection.
package agentproto

// Message types.
const (
	TypeHello   = "hello"   // agent → fake (TCP only): Name, Secret
	TypeWelcome = "welcome" // fake → agent: Name accepted
	TypeError   = "error"   // fake → agent: Message, then the fake closes
	TypeBuild   = "build"   // fake → agent: Job, Number, Commands, Env
	TypeAbort   = "abort"   // fake → agent: stop build Job #Number
	TypeLog     = "log"     // agent → fake: Job, Number, Line (console output)
	TypeResult  = "result"  // agent → fake: Job, Number, Result
	TypePing    = "ping"    // either way; answered by pong
	TypePong    = "pong"
)

// Message is one line of the protocol; fields not used by a type are empty.
type Message struct {
	Type     string            `json:"type"`
	Name     string            `json:"name,omitempty"`
	Secret   string            `json:"secret,omitempty"`
	Version  string            `json:"version,omitempty"`
	Message  string            `json:"message,omitempty"`
	Job      string            `json:"job,omitempty"`
	Number   int               `json:"number,omitempty"`
	Commands []string          `json:"commands,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	Line     string            `json:"line,omitempty"`
	Result   string            `json:"result,omitempty"`
}

// Headers of GET /tcpSlaveAgentListener/ and GET /wsagents/, as Jenkins
// 2.376 names them.
const (
	HeaderPort       = "X-Jenkins-JNLP-Port"
	HeaderHost       = "X-Jenkins-JNLP-Host" // only when the controller sets one
	HeaderProtocols  = "X-Jenkins-Agent-Protocols"
	HeaderIdentity   = "X-Instance-Identity"
	HeaderNodeName   = "Node-Name"
	HeaderSecret     = "Secret-Key"
	HeaderCapability = "X-Remoting-Capability"
)

// Protocols is the X-Jenkins-Agent-Protocols value of Jenkins 2.376.
const Protocols = "JNLP4-connect, Ping"

// ProtocolPing is the only protocol a controller without the
// instance-identity plugin offers (no X-Instance-Identity either).
const ProtocolPing = "Ping"

// RemotingVersion is the remoting version the fake agent.jar claims.
const RemotingVersion = "3071.v7e9b_0dc08466"

// JarMarker is a line inside the fake's /jnlpJars/agent.jar (its
// META-INF/MANIFEST.MF, stored uncompressed): the test agent refuses a jar
// without it, so a test proves the jar came from the fake controller.
const JarMarker = "X-Drover-Fake-Remoting: " + RemotingVersion
