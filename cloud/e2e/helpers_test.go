package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/provider"

	"github.com/drover-ci/drover/internal/uptest"
)

// jenkinsAPI is a Jenkins HTTP API client authenticated with a user's API token (no crumb
// needed, DESIGN §7), for what the tests do as a Jenkins user: create jobs, queue builds, read
// builds, nodes and the queue.
type jenkinsAPI struct {
	url, user, token string
}

var hc = &http.Client{Timeout: 10 * time.Second}

func (j jenkinsAPI) do(method, path, ctype string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, j.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.SetBasicAuth(j.user, j.token)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// createJob creates a freestyle job restricted to label running the shell command.
func (j jenkinsAPI) createJob(t testing.TB, name, label, command string) {
	t.Helper()
	config := fmt.Sprintf(`<?xml version='1.1' encoding='UTF-8'?>
<project><assignedNode>%s</assignedNode><canRoam>false</canRoam><concurrentBuild>true</concurrentBuild>
<builders><hudson.tasks.Shell><command>%s</command></hudson.tasks.Shell></builders></project>`, xmlText(label), xmlText(command))
	code, body, err := j.do("POST", "/createItem?name="+name, "application/xml", []byte(config))
	if err != nil || code != http.StatusOK {
		t.Fatalf("create job %s: %d %v %s", name, code, err, body)
	}
}

// xmlText escapes s for XML character data (a label expression's &&, a script's && and <).
func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// build queues a build of job and returns its queue item id.
func (j jenkinsAPI) build(t testing.TB, job string) {
	t.Helper()
	code, body, err := j.do("POST", "/job/"+job+"/build?delay=0sec", "", nil)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("build %s: %d %v %s", job, code, err, body)
	}
}

type buildInfo struct {
	Building bool   `json:"building"`
	Result   string `json:"result"`
	BuiltOn  string `json:"builtOn"`
}

// buildInfo reads build number of job (ok false while it does not exist).
func (j jenkinsAPI) buildInfo(job string, number int) (buildInfo, bool) {
	var b buildInfo
	code, body, err := j.do("GET", fmt.Sprintf("/job/%s/%d/api/json?tree=building,result,builtOn", job, number), "", nil)
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &b) != nil {
		return b, false
	}
	return b, true
}

// computers lists the agent node names (the built-in node excluded) and how many are online.
func (j jenkinsAPI) computers() (names []string, online int, ok bool) {
	var list struct {
		Computer []struct {
			DisplayName string `json:"displayName"`
			Offline     bool   `json:"offline"`
			Idle        bool   `json:"idle"`
		} `json:"computer"`
	}
	code, body, err := j.do("GET", "/computer/api/json?tree=computer[displayName,offline,idle]", "", nil)
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &list) != nil {
		return nil, 0, false
	}
	for _, c := range list.Computer {
		if c.DisplayName == "Built-In Node" || c.DisplayName == "(built-in)" || c.DisplayName == "master" {
			continue
		}
		names = append(names, c.DisplayName)
		if !c.Offline {
			online++
		}
	}
	return names, online, true
}

// queueLen is the number of items in the build queue (-1 on error).
func (j jenkinsAPI) queueLen() int {
	var q struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	code, body, err := j.do("GET", "/queue/api/json?tree=items[id]", "", nil)
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &q) != nil {
		return -1
	}
	return len(q.Items)
}

// waitBuilds waits until builds 1..n of job ended and returns them.
func waitBuilds(t testing.TB, j jenkinsAPI, job string, n int, d time.Duration) []buildInfo {
	t.Helper()
	out := make([]buildInfo, n)
	uptest.Eventually(t, d, fmt.Sprintf("%d builds of %s to end", n, job), func() bool {
		for i := 1; i <= n; i++ {
			b, ok := j.buildInfo(job, i)
			if !ok || b.Building || b.Result == "" {
				return false
			}
			out[i-1] = b
		}
		return true
	})
	return out
}

// agentPods lists the live agent pods of template (all when template is "").
func agentPods(t testing.TB, cs kubernetes.Interface, ns, template string) []corev1.Pod {
	t.Helper()
	sel := render.LabelTemplate
	if template != "" {
		sel += "=" + template
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil
	}
	return list.Items
}

// status reads the provider's status document ("" when none yet).
func status(cs kubernetes.Interface, ns string) (provider.Status, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, provider.StatusConfigMap, metav1.GetOptions{})
	if err != nil {
		return provider.Status{}, false
	}
	var st provider.Status
	if json.Unmarshal([]byte(cm.Data[provider.StatusKey]), &st) != nil {
		return provider.Status{}, false
	}
	return st, true
}

// agentContainer returns the Docker container id of the agent container of pod ("" if none runs).
func agentContainer(t testing.TB, pod string) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=drover.io/pod-name="+pod,
		"--filter", "label=drover.io/container-name="+render.AgentContainer).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	if f := strings.Fields(string(out)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// writeConfig writes drover's configuration file with a jenkins section.
func writeConfig(t testing.TB, jenkins string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "drover.yaml")
	if err := os.WriteFile(p, []byte("jenkins:\n"+indent(jenkins, "  ")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// grepLines keeps the lines of s that contain one of subs.
func grepLines(s string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// logGrep returns the last 80 lines of the file at path that contain sub.
func logGrep(path, sub string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(grepLines(string(b), sub), "\n")
	return strings.Join(lines[max(0, len(lines)-80):], "\n")
}
