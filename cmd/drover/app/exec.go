package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/utils/exec"
)

type execOptions struct {
	container string
	stdin     bool
	tty       bool
}

func newExecCommand(s Streams, cf *clientFlags) *cobra.Command {
	o := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec POD [-c CONTAINER] [-i] [-t] -- COMMAND [ARGS...]",
		Short: "Run a command in a container of a pod (kubectl exec)",
		Example: `  drover exec jenkins-0 -- ls /var/jenkins_home
  drover exec -it -n ci agent-abc12 -c jnlp -- sh`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 {
				return errors.New("want POD -- COMMAND [ARGS...]")
			}
			c, err := cf.connect()
			if err != nil {
				return err
			}
			name := strings.TrimPrefix(strings.TrimPrefix(args[0], "pods/"), "pod/")
			return runExec(cmd.Context(), c, name, o, args[1:], s)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.container, "container", "c", "", "container name (default: the pod's first)")
	f.BoolVarP(&o.stdin, "stdin", "i", false, "pass stdin to the container")
	f.BoolVarP(&o.tty, "tty", "t", false, "stdin is a terminal")
	return cmd
}

// runExec runs command in the pod's container through pods/exec, with client-go's WebSocket
// executor (falling back to SPDY, as kubectl does). A command's non-zero exit comes back as an
// error with its ExitStatus; main exits with it.
func runExec(ctx context.Context, c *clients, pod string, o *execOptions, command []string, s Streams) error {
	container, err := defaultContainer(ctx, c, pod, o.container)
	if err != nil {
		return err
	}
	opts := remotecommand.StreamOptions{Stdout: s.Out, Stderr: s.ErrOut, Tty: o.tty}
	if o.stdin {
		opts.Stdin = s.In
	}
	if o.tty {
		opts.Stderr = nil
		in, ok := s.In.(*os.File)
		if ok && term.IsTerminal(int(in.Fd())) {
			state, err := term.MakeRaw(int(in.Fd()))
			if err == nil {
				defer term.Restore(int(in.Fd()), state)
			}
			opts.TerminalSizeQueue = newSizeQueue(ctx, int(in.Fd()))
		}
	}
	req := c.typed.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: command, Stdin: o.stdin, Stdout: true, Stderr: !o.tty, TTY: o.tty}, scheme.ParameterCodec)
	ex, err := newExecutor(c.config, req.URL().String())
	if err != nil {
		return err
	}
	return ex.StreamWithContext(ctx, opts)
}

// newExecutor is kubectl's: WebSocket (v5.channel.k8s.io) first, SPDY when the upgrade fails.
func newExecutor(cfg *rest.Config, url string) (remotecommand.Executor, error) {
	u, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", url)
	if err != nil {
		return nil, err
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// defaultContainer is name, else the pod's only (or first) container.
func defaultContainer(ctx context.Context, c *clients, pod, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	p, err := c.typed.CoreV1().Pods(c.namespace).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return "", fmt.Errorf("cannot exec into a container in a completed pod; current phase is %s", p.Status.Phase)
	}
	return p.Spec.Containers[0].Name, nil
}

// ExitCode is the exit status a command's error asks for: a remote command's own exit code
// (drover exec), else 1.
func ExitCode(err error) int {
	var ee utilexec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return ee.ExitStatus()
	}
	return 1
}

// sizeQueue reports the local terminal's size, first and on every SIGWINCH.
type sizeQueue struct {
	ch chan remotecommand.TerminalSize
}

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q.ch
	if !ok {
		return nil
	}
	return &s
}
