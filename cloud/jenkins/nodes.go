package jenkins

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// CreateInboundNode implements Client with the form of DESIGN §7.
func (g *Gojenkins) CreateInboundNode(ctx context.Context, spec NodeSpec) error {
	form, err := createForm(spec)
	if err != nil {
		return fmt.Errorf("jenkins: create node %q: %w", spec.Name, err)
	}
	r := request{method: http.MethodPost, path: "/computer/doCreateItem", body: form,
		ctype: "application/x-www-form-urlencoded"}
	resp, body, err := g.do(ctx, r)
	if err == nil {
		err = expect(r, resp, body, http.StatusFound, http.StatusOK)
	}
	if err != nil && strings.Contains(err.Error(), "already exists") {
		err = fmt.Errorf("%w: %w", ErrNodeExists, err)
	}
	if err != nil {
		return fmt.Errorf("jenkins: create node %q: %w", spec.Name, err)
	}
	return nil
}

type stapler struct {
	StaplerClass string `json:"stapler-class"`
	Class        string `json:"$class"`
}

func createForm(spec NodeSpec) (string, error) {
	if spec.Name == "" {
		return "", errors.New("name is required")
	}
	remoteFS, executors := spec.RemoteFS, spec.Executors
	if remoteFS == "" {
		remoteFS = "/home/jenkins/agent"
	}
	if executors <= 0 {
		executors = 1
	}
	mode := spec.Mode
	if mode == "" {
		mode = "EXCLUSIVE"
	}
	const jnlp = "hudson.slaves.JNLPLauncher"
	const always = "hudson.slaves.RetentionStrategy$Always"
	doc := map[string]any{
		"name": spec.Name, "nodeDescription": spec.Description,
		"numExecutors": strconv.Itoa(executors), "remoteFS": remoteFS,
		"labelString": strings.Join(spec.Labels, " "), "mode": mode,
		"type": "hudson.slaves.DumbSlave",
		"launcher": map[string]any{"stapler-class": jnlp, "$class": jnlp,
			"workDirSettings": map[string]any{"disabled": false, "workDirPath": "",
				"internalDir": "remoting", "failIfWorkDirIsMissing": false},
			"webSocket": spec.WebSocket},
		"retentionStrategy": stapler{always, always},
		"nodeProperties":    map[string]string{"stapler-class-bag": "true"},
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	v := url.Values{"name": {spec.Name}, "type": {"hudson.slaves.DumbSlave"}, "json": {string(js)}}
	return v.Encode(), nil
}

type jnlpXML struct {
	Arguments []string `xml:"application-desc>argument"`
}

// AgentSecret implements Client: the first <argument> of <application-desc>
// in /computer/N/jenkins-agent.jnlp.
func (g *Gojenkins) AgentSecret(ctx context.Context, name string) (string, error) {
	r := request{method: http.MethodGet, path: nodePath(name) + "/jenkins-agent.jnlp"}
	resp, body, err := g.do(ctx, r)
	if err == nil {
		err = expect(r, resp, body, http.StatusOK)
	}
	if err != nil {
		return "", fmt.Errorf("jenkins: agent secret %q: %w", name, notFound(err))
	}
	var doc jnlpXML
	if err := xml.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("jenkins: agent secret %q: %w", name, err)
	}
	if len(doc.Arguments) == 0 || doc.Arguments[0] == "" {
		return "", fmt.Errorf("jenkins: agent secret %q: no <argument> in jnlp", name)
	}
	return doc.Arguments[0], nil
}

// SetOffline implements Client; toggleOffline is sent only when the node is
// not temporarily offline already (it toggles).
func (g *Gojenkins) SetOffline(ctx context.Context, name, message string) error {
	c, err := g.computer(ctx, name)
	if err != nil {
		return fmt.Errorf("jenkins: set offline %q: %w", name, err)
	}
	if c.TemporarilyOffline {
		return nil
	}
	r := request{method: http.MethodPost, path: nodePath(name) + "/toggleOffline",
		query: map[string]string{"offlineMessage": message}}
	return g.post(ctx, r, "set offline "+strconv.Quote(name))
}

// DeleteNode implements Client.
func (g *Gojenkins) DeleteNode(ctx context.Context, name string) error {
	r := request{method: http.MethodPost, path: nodePath(name) + "/doDelete"}
	return g.post(ctx, r, "delete node "+strconv.Quote(name))
}

// post sends a form action that Jenkins answers with 302 (or 200).
func (g *Gojenkins) post(ctx context.Context, r request, what string) error {
	resp, body, err := g.do(ctx, r)
	if err == nil {
		err = expect(r, resp, body, http.StatusFound, http.StatusOK)
	}
	if err != nil {
		return fmt.Errorf("jenkins: %s: %w", what, notFound(err))
	}
	return nil
}

// notFound marks a 404 as ErrNodeNotFound, keeping the HTTP error too.
func notFound(err error) error {
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNodeNotFound, err)
	}
	return err
}
