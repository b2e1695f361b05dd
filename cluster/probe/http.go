package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// transport is shared by HTTP probes: no keep-alives (each probe opens its own connection, as
// the kubelet's), no proxy, no compression, and TLS without verification (as the kubelet's).
var transport = &http.Transport{
	TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // kubelet semantics
	DisableKeepAlives:   true,
	DisableCompression:  true,
	Proxy:               nil,
	TLSHandshakeTimeout: 10 * time.Second,
}

// HTTP sends GET url with headers (plus User-Agent kube-probe/1.32 and Accept */* unless set;
// a "Host" header sets the request's host) and waits at most timeout (<= 0: no limit).
// A 2xx or 3xx answer is Success with the body (at most 10 KiB) as message; redirects to the
// same host are followed (at most 10), those to another host are not and count as Success.
// Any other status, a refused connection or a timeout is Failure with a message. Only a
// malformed request gives Unknown and an error.
func HTTP(ctx context.Context, url string, headers http.Header, timeout time.Duration) (Result, string, error) {
	req, err := newRequest(ctx, url, headers)
	if err != nil {
		return Unknown, "", err
	}
	client := &http.Client{Transport: transport, Timeout: timeout, CheckRedirect: sameHostRedirects}
	res, err := client.Do(req)
	if err != nil {
		return Failure, err.Error(), nil
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxOutput))
	if err != nil {
		return Failure, fmt.Sprintf("reading HTTP probe body: %v", err), nil
	}
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return Success, "Probe terminated redirects, Response body: " + string(body), nil
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return Success, string(body), nil
	default:
		return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode), nil
	}
}

func newRequest(ctx context.Context, url string, headers http.Header) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("http probe: %w", err)
	}
	if headers != nil {
		req.Header = headers.Clone()
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", UserAgent)
	}
	if _, ok := req.Header["Accept"]; !ok {
		req.Header.Set("Accept", "*/*")
	}
	if host := req.Header.Get("Host"); host != "" {
		req.Host = host
	}
	return req, nil
}

// sameHostRedirects follows redirects only within the first request's host, like the
// kubelet's redirect checker without followNonLocalRedirects.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}
