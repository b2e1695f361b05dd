package app

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/agents/render"
)

// jenkinsAccess is how this host reaches an installed Jenkins: its Service's cluster IP (the
// service proxy of a drover node serves it on the node itself) and the admin credentials of
// the Secret `drover jenkins install` wrote.
type jenkinsAccess struct {
	ns, hostURL, podURL, user, password, token string
}

// lookupJenkins reads the Service jenkins and the Secret jenkins-admin of namespace ns.
func lookupJenkins(ctx context.Context, kube kubernetes.Interface, ns string) (*jenkinsAccess, error) {
	svc, err := kube.CoreV1().Services(ns).Get(ctx, "jenkins", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("no Service jenkins in namespace %s: install Jenkins with `drover jenkins install` (or `make up`), or name its namespace with -n", ns)
	}
	if err != nil {
		return nil, fmt.Errorf("service %s/jenkins: %w", ns, err)
	}
	port := int32(8080)
	for _, p := range svc.Spec.Ports {
		if p.Name == "http" {
			port = p.Port
		}
	}
	sec, err := kube.CoreV1().Secrets(ns).Get(ctx, "jenkins-admin", metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("secret %s/jenkins-admin (the admin credentials drover jenkins install writes): %w", ns, err)
	}
	a := &jenkinsAccess{ns: ns, user: string(sec.Data["user"]), password: string(sec.Data["password"]), token: string(sec.Data["token"]),
		podURL: fmt.Sprintf("http://jenkins.%s.svc.cluster.local:%d/", ns, port)}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		a.hostURL = "http://" + net.JoinHostPort(ip, fmt.Sprint(port)) + "/"
	}
	return a, nil
}

func newJenkinsInfoCommand(s Streams, cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Print where the installed Jenkins answers and who to log in as (the password: drover jenkins password)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			ns := jenkinsNamespace(cmd, cf)
			a, err := lookupJenkins(cmd.Context(), c.typed, ns)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "Jenkins URL (this host):  %s\n", a.hostURL)
			fmt.Fprintf(s.Out, "Jenkins URL (in pods):    %s\n", a.podURL)
			fmt.Fprintf(s.Out, "admin user:               %s\n", a.user)
			fmt.Fprintf(s.Out, "password:                 drover jenkins password -n %s\n", ns)
			return nil
		},
	}
}

func newJenkinsPasswordCommand(s Streams, cf *clientFlags) *cobra.Command {
	var token bool
	cmd := &cobra.Command{
		Use:   "password",
		Short: "Print the Jenkins admin's password (--token: its API token) from the Secret jenkins-admin",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			a, err := lookupJenkins(cmd.Context(), c.typed, jenkinsNamespace(cmd, cf))
			if err != nil {
				return err
			}
			v := a.password
			if token {
				v = a.token
			}
			if v == "" {
				return fmt.Errorf("secret %s/jenkins-admin has no %s", a.ns, map[bool]string{false: "password", true: "token"}[token])
			}
			fmt.Fprintln(s.Out, v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&token, "token", false, "print the API token instead of the password")
	return cmd
}

// demoOptions are `drover jenkins demo`'s flags.
type demoOptions struct {
	label   string
	job     string
	timeout time.Duration
}

func newJenkinsDemoCommand(s Streams, cf *clientFlags) *cobra.Command {
	o := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Queue a build in the installed Jenkins and show an agent pod appear, run it and go",
		Long: `demo creates (or reuses) a freestyle job restricted to --label, queues a build, and follows
it: the agent pod drover's cloud provider starts for the queue item, the build's result and
console, and the agent pod going away. It needs Jenkins installed (make up, or drover jenkins
install) and this host able to reach the Service's cluster IP (true on a drover node).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			return runJenkinsDemo(ctx, c.typed, jenkinsNamespace(cmd, cf), o, s.Out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.label, "label", "docker", "label of the job (an agent template's label)")
	f.StringVar(&o.job, "job", "drover-demo", "name of the job to create and build")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long the whole demo may take")
	return cmd
}

// runJenkinsDemo is the demo; each step prints one line as it happens.
func runJenkinsDemo(ctx context.Context, kube kubernetes.Interface, ns string, o demoOptions, out io.Writer) error {
	a, err := lookupJenkins(ctx, kube, ns)
	if err != nil {
		return err
	}
	if a.hostURL == "" {
		return fmt.Errorf("service %s/jenkins has no cluster IP", ns)
	}
	j := demoClient{base: strings.TrimSuffix(a.hostURL, "/"), user: a.user, token: a.token}
	fmt.Fprintf(out, "==> Jenkins at %s (Service jenkins in %s), user %s\n", a.hostURL, ns, a.user)
	if err := j.waitUp(ctx); err != nil {
		return err
	}
	if err := j.createJob(ctx, o.job, o.label, `echo "hello from $(hostname)"`); err != nil {
		return err
	}
	fmt.Fprintf(out, "==> job %s (label %s) runs: echo \"hello from $(hostname)\"\n", o.job, o.label)
	before, err := j.lastBuild(ctx, o.job)
	if err != nil {
		return err
	}
	if err := j.post(ctx, "/job/"+o.job+"/build?delay=0sec", nil); err != nil {
		return fmt.Errorf("queue a build of %s: %w", o.job, err)
	}
	number := before + 1
	fmt.Fprintf(out, "==> queued build #%d; drover's cloud provider starts an agent pod for it\n", number)
	seen := map[string]corev1.PodPhase{}
	var agents []string
	var result string
	for result == "" {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: render.LabelAgent})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if phase, ok := seen[p.Name]; !ok || phase != p.Status.Phase {
				if !ok {
					agents = append(agents, p.Name)
				}
				seen[p.Name] = p.Status.Phase
				fmt.Fprintf(out, "==> agent pod %s: %s\n", p.Name, p.Status.Phase)
			}
		}
		b, ok, err := j.build(ctx, o.job, number)
		if err != nil {
			return err
		}
		if ok && !b.Building && b.Result != "" {
			result = b.Result
			fmt.Fprintf(out, "==> build #%d: %s on %s\n", number, b.Result, b.BuiltOn)
			if text, err := j.get(ctx, fmt.Sprintf("/job/%s/%d/consoleText", o.job, number)); err == nil {
				for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
					fmt.Fprintf(out, "    %s\n", line)
				}
			}
		}
		if result == "" {
			if err := sleepCtx(ctx, time.Second); err != nil {
				return fmt.Errorf("build #%d of %s did not finish: %w (see drover jenkins status -n %s)", number, o.job, err, ns)
			}
		}
	}
	for _, name := range agents {
		for {
			_, err := kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				fmt.Fprintf(out, "==> agent pod %s: gone\n", name)
				break
			}
			if err := sleepCtx(ctx, time.Second); err != nil {
				return fmt.Errorf("agent pod %s still there: %w", name, err)
			}
		}
	}
	if result != "SUCCESS" {
		return fmt.Errorf("build #%d of %s: %s", number, o.job, result)
	}
	fmt.Fprintln(out, "demo done: a build queued in Jenkins got an agent pod on demand, ran on it, and the agent went away")
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// demoClient is the little of Jenkins' REST API the demo needs, with the admin's API token.
type demoClient struct{ base, user, token string }

func (j demoClient) do(ctx context.Context, method, path, ctype string, body []byte) ([]byte, int, error) {
	var r io.Reader
	if body != nil {
		r = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, j.base+path, r)
	if err != nil {
		return nil, 0, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.SetBasicAuth(j.user, j.token)
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return b, resp.StatusCode, err
}

func (j demoClient) get(ctx context.Context, path string) ([]byte, error) {
	b, code, err := j.do(ctx, http.MethodGet, path, "", nil)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("GET %s: HTTP %d", path, code)
	}
	return b, err
}

func (j demoClient) post(ctx context.Context, path string, xmlBody []byte) error {
	ctype := ""
	if xmlBody != nil {
		ctype = "application/xml"
	}
	b, code, err := j.do(ctx, http.MethodPost, path, ctype, xmlBody)
	if err == nil && code/100 != 2 {
		err = fmt.Errorf("POST %s: HTTP %d: %s", path, code, strings.TrimSpace(string(b)))
	}
	return err
}

// waitUp waits until Jenkins answers its API with the admin's token.
func (j demoClient) waitUp(ctx context.Context) error {
	var last error
	for {
		if _, last = j.get(ctx, "/api/json"); last == nil {
			return nil
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return fmt.Errorf("Jenkins does not answer at %s: %w", j.base, errors.Join(last, err))
		}
	}
}

// createJob creates a freestyle job restricted to label running command, unless it exists.
func (j demoClient) createJob(ctx context.Context, name, label, command string) error {
	if _, err := j.get(ctx, "/job/"+name+"/api/json"); err == nil {
		return nil
	}
	var l, c strings.Builder
	_ = xml.EscapeText(&l, []byte(label))
	_ = xml.EscapeText(&c, []byte(command))
	config := fmt.Sprintf(`<?xml version='1.1' encoding='UTF-8'?>
<project><assignedNode>%s</assignedNode><canRoam>false</canRoam>
<builders><hudson.tasks.Shell><command>%s</command></hudson.tasks.Shell></builders></project>`, l.String(), c.String())
	if err := j.post(ctx, "/createItem?name="+name, []byte(config)); err != nil {
		return fmt.Errorf("create job %s: %w", name, err)
	}
	return nil
}

// lastBuild is the number of the job's last build (0: none yet).
func (j demoClient) lastBuild(ctx context.Context, job string) (int, error) {
	b, err := j.get(ctx, "/job/"+job+"/api/json")
	if err != nil {
		return 0, err
	}
	var v struct {
		LastBuild *struct {
			Number int `json:"number"`
		} `json:"lastBuild"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, fmt.Errorf("job %s: %w", job, err)
	}
	if v.LastBuild == nil {
		return 0, nil
	}
	return v.LastBuild.Number, nil
}

type demoBuild struct {
	Building bool   `json:"building"`
	Result   string `json:"result"`
	BuiltOn  string `json:"builtOn"`
}

// build reads build number of job; ok is false while it does not exist yet.
func (j demoClient) build(ctx context.Context, job string, number int) (demoBuild, bool, error) {
	b, code, err := j.do(ctx, http.MethodGet, fmt.Sprintf("/job/%s/%d/api/json", job, number), "", nil)
	if err != nil || code == http.StatusNotFound {
		return demoBuild{}, false, nil // not there yet, or a transient error: the next poll tells
	}
	if code != http.StatusOK {
		return demoBuild{}, false, fmt.Errorf("build %s #%d: HTTP %d", job, number, code)
	}
	var v demoBuild
	if err := json.Unmarshal(b, &v); err != nil {
		return demoBuild{}, false, fmt.Errorf("build %s #%d: %w", job, number, err)
	}
	return v, true, nil
}
