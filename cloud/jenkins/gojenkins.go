package jenkins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/bndr/gojenkins"
)

// Config says how to reach Jenkins. APIToken is preferred: requests
// authenticated with a user's API token need no crumb. With Password (or no
// credentials at all) every POST first fetches a crumb. Credentials are never
// logged.
type Config struct {
	URL            string
	User           string
	APIToken       string
	Password       string
	ConnectTimeout time.Duration // default 5 s
	ReadTimeout    time.Duration // default 15 s
}

// Gojenkins is the real Client over github.com/bndr/gojenkins v1.1.0. Calls
// gojenkins has no (context-aware) method for go through its Requester's
// HTTP client, base URL and basic auth.
type Gojenkins struct {
	j         *gojenkins.Jenkins
	needCrumb bool
}

var _ Client = (*Gojenkins)(nil)

// NewGojenkins connects to Jenkins and checks that /api/json answers.
func NewGojenkins(ctx context.Context, cfg Config) (*Gojenkins, error) {
	if cfg.URL == "" {
		return nil, errors.New("jenkins: url is required")
	}
	auth := []interface{}{}
	secret := cfg.APIToken
	if secret == "" {
		secret = cfg.Password
	}
	if cfg.User != "" {
		auth = append(auth, cfg.User, secret)
	}
	j := gojenkins.CreateJenkins(newHTTPClient(cfg), cfg.URL, auth...)
	g := &Gojenkins{j: j, needCrumb: cfg.APIToken == ""}
	if err := g.ping(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

func newHTTPClient(cfg Config) *http.Client {
	connect, read := cfg.ConnectTimeout, cfg.ReadTimeout
	if connect <= 0 {
		connect = 5 * time.Second
	}
	if read <= 0 {
		read = 15 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: connect}).DialContext
	tr.ResponseHeaderTimeout = read
	return &http.Client{
		Transport: tr,
		// Jenkins answers 302 to successful form posts; that is the answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ping is gojenkins' Init check (GET /api/json, 200) with the context honoured.
func (g *Gojenkins) ping(ctx context.Context) error {
	var raw gojenkins.ExecutorResponse
	if err := g.getJSON(ctx, "/api/json", nil, &raw); err != nil {
		return fmt.Errorf("jenkins: connect %s: %w", g.j.Server, err)
	}
	return nil
}

// request is one raw call through gojenkins' Requester.
type request struct {
	method string
	path   string
	query  map[string]string
	body   string
	ctype  string
}

// do sends r and returns the response with its body read; statuses are the
// caller's business.
func (g *Gojenkins) do(ctx context.Context, r request) (*http.Response, []byte, error) {
	req, err := g.newRequest(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	if r.method == http.MethodPost && g.needCrumb {
		if err := g.addCrumb(ctx, req); err != nil {
			return nil, nil, err
		}
	}
	resp, err := g.j.Requester.Client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("jenkins: %s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("jenkins: %s %s: read: %w", r.method, r.path, err)
	}
	return resp, body, nil
}

func (g *Gojenkins) newRequest(ctx context.Context, r request) (*http.Request, error) {
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, g.j.Requester.Base+r.path, body)
	if err != nil {
		return nil, fmt.Errorf("jenkins: %s %s: %w", r.method, r.path, err)
	}
	q := req.URL.Query()
	for k, v := range r.query {
		q.Set(k, v)
	}
	req.URL.RawQuery = q.Encode()
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	if a := g.j.Requester.BasicAuth; a != nil {
		req.SetBasicAuth(a.Username, a.Password)
	}
	return req, nil
}

// expect turns a status other than want into an *HTTPError.
func expect(r request, resp *http.Response, body []byte, want ...int) error {
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	msg := string(body)
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &HTTPError{Method: r.method, Path: r.path, Status: resp.StatusCode, Body: msg}
}
