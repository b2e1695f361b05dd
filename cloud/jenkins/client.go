// Package jenkins is drover's seam to a Jenkins controller: the Client
// interface the cloud provider uses, and a real adapter over gojenkins.
// The requests and answers follow DESIGN §7 (Jenkins 2.376).
package jenkins

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNodeNotFound is returned (wrapped) when Jenkins answers 404 for a node.
var ErrNodeNotFound = errors.New("jenkins: node not found")

// ErrBuildNotFound is returned (wrapped) when Jenkins answers 404 for a build.
var ErrBuildNotFound = errors.New("jenkins: build not found")

// ErrNodeExists is returned (wrapped) when a node with that name already exists.
var ErrNodeExists = errors.New("jenkins: node already exists")

// Client is what the cloud provider needs from Jenkins. Every method takes
// the context first and wraps its errors with %w.
type Client interface {
	// Queue lists the items waiting in the build queue.
	Queue(ctx context.Context) ([]QueueItem, error)
	// CancelQueueItem removes one item from the queue (tests, cleanup).
	CancelQueueItem(ctx context.Context, id int64) error
	// Computers lists the nodes Jenkins knows, with their executors.
	Computers(ctx context.Context) ([]Computer, error)
	// CreateInboundNode creates a permanent inbound (JNLP) agent node.
	CreateInboundNode(ctx context.Context, spec NodeSpec) error
	// AgentSecret returns the secret an inbound agent connects with.
	AgentSecret(ctx context.Context, name string) (string, error)
	// SetOffline marks a node temporarily offline unless it already is.
	SetOffline(ctx context.Context, name, message string) error
	// DeleteNode removes a node; ErrNodeNotFound if it does not exist.
	DeleteNode(ctx context.Context, name string) error
	// AgentListener reads GET /tcpSlaveAgentListener/: whether the TCP
	// agent port is enabled and which protocols it offers.
	AgentListener(ctx context.Context) (AgentListener, error)
	// Build reads one build: {buildURL}api/json, buildURL absolute or a
	// path such as "job/J/5/"; ErrBuildNotFound when Jenkins answers 404.
	Build(ctx context.Context, buildURL string) (Build, error)
	// TriggerBuild queues job (full path, e.g. "folder/x") with params
	// (buildWithParameters; none: build?delay=0sec) and returns the queue
	// item's URL from the Location header.
	TriggerBuild(ctx context.Context, job string, params []Parameter) (queueItemURL string, err error)
}

// QueueItem is one entry of GET /queue/api/json.
type QueueItem struct {
	ID           int64
	Why          string
	InQueueSince time.Time
	Buildable    bool
	Stuck        bool
	TaskName     string
	TaskURL      string
	// LabelExpression is task.labelExpression; empty when Jenkins sent none
	// (pipeline node('L') items).
	LabelExpression string
	// Label is LabelExpression, or else the label named in Why.
	Label string
	// Node is the node named by a "‘N’ is offline" Why text.
	Node string
	// Pending is true while an executor has taken the item but Jenkins
	// still lists it (DESIGN §7): the item is no longer demand.
	Pending bool
	// Blocked is true when the item waits for something other than an
	// executor (e.g. another build of the same job).
	Blocked bool
}

// Computer is one entry of GET /computer/api/json.
type Computer struct {
	Name string
	// Description is the node's description (nodeDescription when created).
	Description        string
	Offline            bool
	Idle               bool
	JNLPAgent          bool
	TemporarilyOffline bool
	// Labels are the assigned labels without the node's own name.
	Labels []string
	// Executors is the number of executors.
	Executors int
	// Builds are the URLs of the builds running on busy executors.
	Builds []string
}

// NodeSpec describes an inbound agent node to create.
type NodeSpec struct {
	Name        string
	Description string
	RemoteFS    string // default /home/jenkins/agent
	Labels      []string
	Executors   int // default 1
	WebSocket   bool
	// Mode is the Jenkins node mode: EXCLUSIVE (default: only builds whose
	// label expression matches) or NORMAL (any build).
	Mode string
}

// HTTPError is an unexpected HTTP status from Jenkins.
type HTTPError struct {
	Method string
	Path   string
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("jenkins: %s %s: status %d: %s", e.Method, e.Path, e.Status, e.Body)
}
