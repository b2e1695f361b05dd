package jenkins

import (
	"context"
	"fmt"
	"net/url"
)

const computerFields = "displayName,description,offline,idle,jnlpAgent,temporarilyOffline,assignedLabels[name],executors[currentExecutable[url]]"

type computerJSON struct {
	DisplayName        string `json:"displayName"`
	Description        string `json:"description"`
	Offline            bool   `json:"offline"`
	Idle               bool   `json:"idle"`
	JNLPAgent          bool   `json:"jnlpAgent"`
	TemporarilyOffline bool   `json:"temporarilyOffline"`
	AssignedLabels     []struct {
		Name string `json:"name"`
	} `json:"assignedLabels"`
	Executors []struct {
		CurrentExecutable *struct {
			URL string `json:"url"`
		} `json:"currentExecutable"`
	} `json:"executors"`
}

// Computers implements Client.
func (g *Gojenkins) Computers(ctx context.Context) ([]Computer, error) {
	var list struct {
		Computer []computerJSON `json:"computer"`
	}
	q := map[string]string{"tree": "computer[" + computerFields + "]"}
	if err := g.getJSON(ctx, "/computer/api/json", q, &list); err != nil {
		return nil, fmt.Errorf("jenkins: computers: %w", err)
	}
	out := make([]Computer, 0, len(list.Computer))
	for _, c := range list.Computer {
		out = append(out, c.computer())
	}
	return out, nil
}

// computer reads one node's state (GET /computer/N/api/json).
func (g *Gojenkins) computer(ctx context.Context, name string) (Computer, error) {
	var c computerJSON
	err := g.getJSON(ctx, nodePath(name)+"/api/json", map[string]string{"tree": computerFields}, &c)
	if err != nil {
		return Computer{}, notFound(err)
	}
	if c.DisplayName == "" {
		c.DisplayName = name
	}
	return c.computer(), nil
}

func (c computerJSON) computer() Computer {
	out := Computer{
		Name:               c.DisplayName,
		Description:        c.Description,
		Offline:            c.Offline,
		Idle:               c.Idle,
		JNLPAgent:          c.JNLPAgent,
		TemporarilyOffline: c.TemporarilyOffline,
		Executors:          len(c.Executors),
	}
	for _, l := range c.AssignedLabels {
		if l.Name != c.DisplayName {
			out.Labels = append(out.Labels, l.Name)
		}
	}
	for _, e := range c.Executors {
		if e.CurrentExecutable != nil {
			out.Builds = append(out.Builds, e.CurrentExecutable.URL)
		}
	}
	return out
}

func nodePath(name string) string {
	return "/computer/" + url.PathEscape(name)
}
