package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drover-ci/drover/cloud/jenkins/jenkinstest"

	"github.com/drover-ci/drover/internal/logtest"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A bad `jenkins:` section (or --jenkins-config file) refuses the start, naming each field.
func TestJenkinsConfigRefused(t *testing.T) {
	bad := "url: http://jenkins:8080\ncredentials: {user: admin, tokenEnv: T, tokenFile: /f}\ntemplates:\n- name: docker\n"
	indent := "  " + strings.ReplaceAll(strings.TrimSuffix(bad, "\n"), "\n", "\n  ") + "\n"
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"section", []string{"--config", writeFile(t, "drover.yaml", "log-level: debug\njenkins:\n"+indent)},
			[]string{"jenkins.templates[0].image: required", "jenkins.credentials: tokenEnv and tokenFile are exclusive"}},
		{"file", []string{"--jenkins-config", writeFile(t, "cloud.yaml", bad)},
			[]string{"cloud.yaml: invalid Jenkins cloud configuration", "  templates[0].image: required"}},
		{"unknown field", []string{"--config", writeFile(t, "drover.yaml", "jenkins:\n  url: http://j\n  jenkinsURL: http://x\n")},
			[]string{`jenkins: config: unknown field "jenkinsURL"`}},
		{"twice", []string{"--config", writeFile(t, "drover.yaml", "jenkins: {url: http://j}\n"), "--jenkins-config", writeFile(t, "c.yaml", "url: http://j\n")},
			[]string{"configured twice"}},
	} {
		for _, verb := range []string{"server", "up"} {
			t.Run(tc.name+"/"+verb, func(t *testing.T) {
				var out bytes.Buffer
				args := append([]string{verb, "--data-dir", t.TempDir(), "--store", "memory://", "--listen", "127.0.0.1:0"}, tc.args...)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err := Run(ctx, args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
				if err == nil {
					t.Fatalf("drover %s started with a bad Jenkins configuration", verb)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error = %v\nwant it to contain %q", err, w)
					}
				}
				if strings.Contains(out.String(), "API server at") {
					t.Errorf("the API server started:\n%s", out.String())
				}
			})
		}
	}
}

// A good `jenkins:` section runs the provider against the (fake) Jenkins with the token from
// DROVER_JENKINS_TOKEN; the token is in no output, and /metrics shows the provider up.
func TestJenkinsConfigStatic(t *testing.T) {
	const token = "11c0ffeec0ffeec0ffeec0ffeec0ffee00"
	j := jenkinstest.New()
	defer j.Close()
	j.AddUser("admin", "pw", token)
	t.Setenv("DROVER_JENKINS_TOKEN", token)
	cfg := writeFile(t, "drover.yaml", "log-level: debug\njenkins:\n  url: "+j.URL()+
		"\n  credentials: {user: admin, tokenEnv: DROVER_JENKINS_TOKEN}\n  namespace: default\n  jenkinsUrl: http://jenkins.default.svc.cluster.local:8080/\n")
	out := &logtest.Buffer{}
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"server", "--config", cfg, "--data-dir", dataDir, "--store", "memory://", "--listen", "127.0.0.1:0"},
			Streams{In: strings.NewReader(""), Out: out, ErrOut: out})
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("server did not stop")
		}
	}()
	url := regexp.MustCompile(`API server at (https://\S+)`)
	upSample := regexp.MustCompile(`(?m)^drover_jenkins_provider_up 1$`)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(60 * time.Second)
	var body string
	for {
		admin, _ := os.ReadFile(filepath.Join(dataDir, "admin.token"))
		if m := url.FindStringSubmatch(out.String()); m != nil && len(admin) > 0 {
			req, _ := http.NewRequest(http.MethodGet, m[1]+"/metrics", nil)
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(admin)))
			if resp, err := hc.Do(req); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
				// The sample line: "# HELP drover_jenkins_provider_up 1 while ..." is there as
				// soon as the metric is registered, the provider not started yet.
				if upSample.MatchString(body) {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("provider not up in /metrics:\n%s\noutput:\n%s", body, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, w := range []string{"\ndrover_jenkins_provider_starts_total 1\n", "go_goroutines"} {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	if !strings.Contains(out.String(), "jenkins cloud: provider started") {
		t.Errorf("no start in the logs:\n%s", out.String())
	}
	if strings.Contains(out.String(), token) {
		t.Errorf("the token is in the output:\n%s", out.String())
	}
}
