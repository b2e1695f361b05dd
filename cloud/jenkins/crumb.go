package jenkins

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

type crumb struct {
	Crumb             string `json:"crumb"`
	CrumbRequestField string `json:"crumbRequestField"`
}

// addCrumb fetches a crumb and puts it on req with the session cookie it was
// issued with. A Jenkins without CSRF protection answers 404: no crumb then.
func (g *Gojenkins) addCrumb(ctx context.Context, req *http.Request) error {
	r := request{method: http.MethodGet, path: "/crumbIssuer/api/json"}
	resp, body, err := g.do(ctx, r)
	if err != nil {
		return fmt.Errorf("jenkins: crumb: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	if err := expect(r, resp, body, http.StatusOK); err != nil {
		return fmt.Errorf("jenkins: crumb: %w", err)
	}
	var c crumb
	if err := json.Unmarshal(body, &c); err != nil {
		return fmt.Errorf("jenkins: crumb: %w", err)
	}
	if c.CrumbRequestField == "" {
		c.CrumbRequestField = "Jenkins-Crumb"
	}
	req.Header.Set(c.CrumbRequestField, c.Crumb)
	for _, ck := range resp.Cookies() {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	return nil
}

// getJSON GETs path and decodes a 200 answer into out.
func (g *Gojenkins) getJSON(ctx context.Context, path string, query map[string]string, out any) error {
	r := request{method: http.MethodGet, path: path, query: query}
	resp, body, err := g.do(ctx, r)
	if err != nil {
		return err
	}
	if err := expect(r, resp, body, http.StatusOK); err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("jenkins: GET %s: decode: %w", path, err)
	}
	return nil
}
