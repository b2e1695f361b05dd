package nodeagent_test

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// `kubectl logs` reaches the node agent through the API server: -c, --tail, and --previous
// after a restart.
func TestE2EKubectlLogs(t *testing.T) {
	t.Parallel()
	e := startE2E(t, e2eOptions{})
	e.create(testPod("talk", serverContainer("web", 8080),
		exitContainer("words", map[string]string{"SLEEP": "inf"}, "line one", "line two", "line three")))
	p := e.waitRunning("talk")
	base := "http://" + p.Status.PodIP + ":8080"

	if out, err := e.kubectl("logs", "talk", "-c", "words"); err != nil || out != "line one\nline two\nline three\n" {
		t.Errorf("logs -c words = %q, %v", out, err)
	}
	if out, err := e.kubectl("logs", "talk", "-c", "words", "--tail=1"); err != nil || out != "line three\n" {
		t.Errorf("logs --tail=1 = %q, %v", out, err)
	}

	mustHTTP(t, "GET", base+"/echo?n=first")
	httpDo("POST", base+"/exit?code=1")
	e.waitPod("talk", 20*time.Second, "web restarted", func(p *corev1.Pod) bool {
		return status(p, "web").RestartCount == 1 && status(p, "web").State.Running != nil
	})
	e.poll(10*time.Second, "new web answers", func() (bool, string) {
		code, body, err := httpDo("GET", base+"/echo?n=second")
		return code == 200, body + errString(err)
	})

	cur, err := e.kubectl("logs", "talk", "-c", "web")
	if err != nil || !strings.Contains(cur, "GET /echo?n=second") || strings.Contains(cur, "n=first") {
		t.Errorf("logs -c web (current) = %q, %v; want n=second only", cur, err)
	}
	prev, err := e.kubectl("logs", "talk", "-c", "web", "--previous")
	if err != nil || !strings.Contains(prev, "GET /echo?n=first") || !strings.Contains(prev, "exiting with 1") || strings.Contains(prev, "n=second") {
		t.Errorf("logs -c web --previous = %q, %v; want the first attempt's output", prev, err)
	}
	if out, err := e.kubectl("logs", "talk", "-c", "words", "--previous"); err == nil {
		t.Errorf("logs --previous of a container that never restarted: %q, want an error", out)
	}
	// -f streams what comes later.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	follow := exec.CommandContext(ctx, "kubectl", "--kubeconfig", e.srv.Kubeconfig, "logs", "-f", "talk", "-c", "web", "--tail=0")
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = follow.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	got := ""
	e.poll(15*time.Second, "logs -f shows a later request", func() (bool, string) {
		mustHTTP(t, "GET", base+"/echo?n=followed")
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return false, "stream ended: " + got
				}
				got += l + "\n"
				if strings.Contains(l, "n=followed") {
					return true, ""
				}
				continue
			default:
			}
			return false, got
		}
	})
	if strings.Contains(got, "n=second") {
		t.Errorf("logs -f --tail=0 repeated old lines: %q", got)
	}

	if out, err := e.kubectl("logs", "talk", "-c", "nosuch"); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("logs -c nosuch: %q %v, want an error naming the container", out, err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " " + err.Error()
}
