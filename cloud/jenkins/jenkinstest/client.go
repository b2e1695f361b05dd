package jenkinstest

import (
	"io"
	"net/http"
	"strings"
)

// Do sends a request to the server as a script with user's API token would:
// method path (relative to URL), with body of content type ctype when ctype
// is not empty, redirects not followed. It returns the response, whose body
// is already read into the returned string and closed.
func (s *Server) Do(user, token, method, path, ctype, body string) (*http.Response, string, error) {
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.SetBasicAuth(user, token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}
