package jenkins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Parameter is one build parameter.
type Parameter struct {
	Name, Value string
}

// Build is one build of GET /job/J/N/api/json.
type Build struct {
	URL string
	// Job is the job's full path: "job/folder/job/x/3/" gives "folder/x".
	Job    string
	Number int64
	// Building is true while the build runs; Result is empty until it ends
	// (SUCCESS, UNSTABLE, FAILURE, ABORTED, NOT_BUILT).
	Building bool
	Result   string
	// BuiltOn is the node the build ran on ("" for the built-in node).
	BuiltOn    string
	Parameters []Parameter
	// QueueID is the id of the queue item the build was started from.
	QueueID int64
}

const buildTree = "url,number,queueId,building,result,builtOn,actions[parameters[name,value]]"

type buildJSON struct {
	URL      string `json:"url"`
	Number   int64  `json:"number"`
	Building bool   `json:"building"`
	Result   string `json:"result"`
	BuiltOn  string `json:"builtOn"`
	QueueID  int64  `json:"queueId"`
	Actions  []struct {
		Parameters []struct {
			Name  string          `json:"name"`
			Value json.RawMessage `json:"value"`
		} `json:"parameters"`
	} `json:"actions"`
}

// Build implements Client.
func (g *Gojenkins) Build(ctx context.Context, buildURL string) (Build, error) {
	path := jobRelative(buildURL)
	var b buildJSON
	if err := g.getJSON(ctx, path+"api/json", map[string]string{"tree": buildTree}, &b); err != nil {
		var he *HTTPError
		if errors.As(err, &he) && he.Status == http.StatusNotFound {
			err = fmt.Errorf("%w: %w", ErrBuildNotFound, err)
		}
		return Build{}, fmt.Errorf("jenkins: build %s: %w", buildURL, err)
	}
	out := Build{URL: b.URL, Number: b.Number, Building: b.Building, Result: b.Result, BuiltOn: b.BuiltOn, QueueID: b.QueueID}
	if out.URL == "" {
		out.URL = buildURL
	}
	out.Job, _, _ = JobOfBuild(out.URL)
	if out.Job == "" {
		out.Job, _, _ = JobOfBuild(path)
	}
	for _, a := range b.Actions {
		for _, p := range a.Parameters {
			// Jenkins exports no value for a password parameter (nor for file
			// parameters): leave it out, so that a requeue gets the job's default
			// rather than an empty string.
			if v := strings.TrimSpace(string(p.Value)); v == "" || v == "null" {
				continue
			}
			out.Parameters = append(out.Parameters, Parameter{Name: p.Name, Value: paramValue(p.Value)})
		}
	}
	return out, nil
}

// paramValue is a parameter's value as text: strings unquoted, booleans
// and numbers as written, null as "".
func paramValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if t := strings.TrimSpace(string(raw)); t != "null" {
		return t
	}
	return ""
}

// jobRelative turns a build URL (absolute, "/job/…" or "job/…") into a path
// from the root given to the adapter, ending in "/". Jenkins writes build
// URLs with its own root URL, which need not be the one drover reaches it
// by, so only the part from the first "job/" segment on is kept.
func jobRelative(buildURL string) string {
	p := buildURL
	if u, err := url.Parse(buildURL); err == nil && u.IsAbs() {
		p = u.EscapedPath()
	}
	p = "/" + strings.TrimPrefix(p, "/")
	if i := strings.Index(p, "/job/"); i >= 0 {
		p = p[i:]
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// JobOfBuild returns the full job path and the build number of a build URL
// or path: ".../job/folder/job/x/3/" gives "folder/x", 3; "job/J/5/" gives
// "J", 5. ok is false when the URL names no job.
func JobOfBuild(buildURL string) (job string, number int64, ok bool) {
	p := buildURL
	if u, err := url.Parse(buildURL); err == nil {
		p = u.EscapedPath()
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	var names []string
	for i := 0; i < len(segs); i++ {
		if segs[i] == "job" && i+1 < len(segs) {
			name, err := url.PathUnescape(segs[i+1])
			if err != nil {
				name = segs[i+1]
			}
			names = append(names, name)
			i++
			if i+1 < len(segs) {
				if n, err := strconv.ParseInt(segs[i+1], 10, 64); err == nil {
					number = n
				}
			}
		}
	}
	return strings.Join(names, "/"), number, len(names) > 0
}

// jobPath is the URL path of a job given by its full path ("folder/x" →
// "/job/folder/job/x").
func jobPath(job string) string {
	var b strings.Builder
	for _, seg := range strings.Split(strings.Trim(job, "/"), "/") {
		b.WriteString("/job/" + url.PathEscape(seg))
	}
	return b.String()
}

// TriggerBuild implements Client: POST /job/J/buildWithParameters with the
// parameters as a form, or POST /job/J/build?delay=0sec without any; Jenkins
// answers 201 with the queue item in Location.
func (g *Gojenkins) TriggerBuild(ctx context.Context, job string, params []Parameter) (string, error) {
	if strings.Trim(job, "/") == "" {
		return "", errors.New("jenkins: trigger build: job is required")
	}
	r := request{method: http.MethodPost, path: jobPath(job) + "/build", query: map[string]string{"delay": "0sec"}}
	if len(params) > 0 {
		form := url.Values{}
		for _, p := range params {
			form.Add(p.Name, p.Value)
		}
		r = request{method: http.MethodPost, path: jobPath(job) + "/buildWithParameters",
			body: form.Encode(), ctype: "application/x-www-form-urlencoded"}
	}
	resp, body, err := g.do(ctx, r)
	if err == nil {
		err = expect(r, resp, body, http.StatusCreated)
	}
	if err != nil {
		return "", fmt.Errorf("jenkins: trigger build %q: %w", job, err)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("jenkins: trigger build %q: 201 without a Location header", job)
	}
	return loc, nil
}
