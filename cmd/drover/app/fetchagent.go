package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// fetchAgentOptions are the flags of `drover fetch-agent`; the delays are fixed outside tests.
type fetchAgentOptions struct {
	url     string
	out     string
	timeout time.Duration
	// firstDelay is the wait after the first failed attempt; it doubles up to maxDelay.
	firstDelay, maxDelay time.Duration
	// attemptTimeout bounds one download.
	attemptTimeout time.Duration
}

// newFetchAgentCommand downloads the Jenkins remoting agent.jar from the controller: the
// Jenkins cloud runs it in an init container of the tools image
// ([/drover, fetch-agent, --url, URL, --out, /drover-agent/agent.jar]) with an emptyDir shared
// with the agent container, which then runs `java -cp /drover-agent/agent.jar ...`.
func newFetchAgentCommand(s Streams, _ *clientFlags) *cobra.Command {
	o := &fetchAgentOptions{firstDelay: time.Second, maxDelay: 10 * time.Second, attemptTimeout: 2 * time.Minute}
	cmd := &cobra.Command{
		Use:    "fetch-agent --url URL --out FILE",
		Short:  "Download the Jenkins agent.jar from a controller (retrying while it starts), written atomically",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fetchAgent(cmd.Context(), o, s.ErrOut)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "url", "", "the Jenkins controller's URL (its /jnlpJars/agent.jar is fetched), or the URL of a .jar")
	f.StringVar(&o.out, "out", "", "file to write the jar to (replaced atomically)")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}

// agentJarURL is where the controller at base serves agent.jar: base itself when it names a
// .jar, else base's path + /jnlpJars/agent.jar (a context path such as /jenkins is kept).
func agentJarURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("--url %q: %w", base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url %q: want http://HOST[:PORT][/PATH] or https://...", base)
	}
	if !strings.HasSuffix(u.Path, ".jar") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/jnlpJars/agent.jar"
		u.RawPath = ""
	}
	return u.String(), nil
}

// fetchAgent downloads the jar with retries and doubling back-off until o.timeout, writing
// progress lines to log.
func fetchAgent(ctx context.Context, o *fetchAgentOptions, log io.Writer) error {
	if o.out == "" {
		return errors.New("--out: required")
	}
	if o.timeout <= 0 {
		return fmt.Errorf("--timeout %s: want more than 0", o.timeout)
	}
	src, err := agentJarURL(o.url)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	start := time.Now()
	delay := o.firstDelay
	var last error
	for attempt := 1; ; attempt++ {
		fmt.Fprintf(log, "fetch-agent: attempt %d: GET %s\n", attempt, src)
		n, err := fetchOnce(ctx, src, o.out, o.attemptTimeout)
		if err == nil {
			fmt.Fprintf(log, "fetch-agent: wrote %d bytes to %s in %s\n", n, o.out, time.Since(start).Round(time.Millisecond))
			return nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(log, "fetch-agent: attempt %d: %v; retrying in %s\n", attempt, err, delay)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		if ctx.Err() != nil {
			break
		}
		delay = min(2*delay, o.maxDelay)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("fetch-agent: no agent.jar from %s within %s (is the Jenkins controller up?); last error: %w", src, o.timeout, last)
	}
	return fmt.Errorf("fetch-agent: %w; last error: %w", ctx.Err(), last)
}

// jarMagic starts every jar (a zip file).
var jarMagic = []byte("PK\x03\x04")

// fetchOnce downloads src to a temporary file next to out and renames it over out, so a
// reader never sees a partial jar. A non-200 answer or a body that is not a jar (a proxy's
// or a starting controller's HTML page) is an error.
func fetchOnce(ctx context.Context, src, out string, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return 0, fmt.Errorf("answered %s", resp.Status)
	}
	head := make([]byte, len(jarMagic))
	if _, err := io.ReadFull(resp.Body, head); err != nil || !bytes.Equal(head, jarMagic) {
		return 0, fmt.Errorf("answered 200 with something that is not a jar (%q, content type %q)", head, resp.Header.Get("Content-Type"))
	}
	dir := filepath.Dir(out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("create temporary file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	n, err := io.Copy(tmp, io.MultiReader(bytes.NewReader(head), resp.Body))
	if err != nil {
		tmp.Close()
		return 0, fmt.Errorf("download: %w", err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		tmp.Close()
		return 0, fmt.Errorf("download: got %d of %d bytes", n, resp.ContentLength)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return 0, fmt.Errorf("write %s: %w", out, err)
	}
	return n, nil
}
