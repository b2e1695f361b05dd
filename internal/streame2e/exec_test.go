package streame2e

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/drover-ci/drover/internal/uptest"
)

func intstrPort(p int) intstr.IntOrString { return intstr.FromInt32(int32(p)) }

// TestIntoThePods runs issue 15's checks against one drover up.
func TestIntoThePods(t *testing.T) {
	env := start(t)
	createPod(t, env, pod("two", nil, shellContainer("a", corev1.EnvVar{Name: "NAME", Value: "a"}),
		shellContainer("b", corev1.EnvVar{Name: "NAME", Value: "b"})))
	t.Run("Exec", func(t *testing.T) { testExec(t, env) })
	t.Run("ExecTTY", func(t *testing.T) { testExecTTY(t, env) })
	t.Run("ExecErrors", func(t *testing.T) { testExecErrors(t, env) })
	t.Run("Cp", func(t *testing.T) { testCp(t, env) })
	t.Run("Attach", func(t *testing.T) { testAttach(t, env) })
	t.Run("PortForward", func(t *testing.T) { testPortForward(t, env) })
	t.Run("Proxy", func(t *testing.T) { testProxy(t, env) })
	t.Run("Security", func(t *testing.T) { testSecurity(t, env) })
	t.Run("DroverVerbs", func(t *testing.T) { testDroverVerbs(t, env) })
}

// testExec: stdout and stderr apart, the command's exit code as kubectl's, stdin round trip,
// -c choosing a container; over WebSocket and SPDY.
func testExec(t *testing.T, env *uptest.Env) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			out, errOut, code := kubectl(env, p.env, "", "exec", "two", "-c", "a", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
			if out != "out\n" || !strings.HasPrefix(errOut, "err\n") || code != 3 {
				t.Errorf("exec: stdout %q stderr %q exit %d; want out, err, 3", out, errOut, code)
			}
			in := strings.Repeat("data line\n", 5000)
			out, errOut, code = kubectl(env, p.env, in, "exec", "-i", "two", "-c", "a", "--", "cat")
			if out != in || code != 0 {
				t.Errorf("exec -i cat: %d of %d bytes back, exit %d, stderr %q", len(out), len(in), code, errOut)
			}
			for _, c := range []string{"a", "b"} {
				out, errOut, code = kubectl(env, p.env, "", "exec", "two", "-c", c, "--", "sh", "-c", "echo $NAME")
				if out != c+"\n" || code != 0 {
					t.Errorf("exec -c %s: %q %q %d", c, out, errOut, code)
				}
			}
		})
	}
}

// testExecTTY: kubectl exec -it under a pseudo-terminal gets a prompt, and stty size inside
// follows the terminal's size when it changes.
func testExecTTY(t *testing.T, env *uptest.Env) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			cmd := exec.Command("kubectl", "--kubeconfig", env.Kubeconfig, "exec", "-it", "two", "-c", "a", "--", "sh")
			cmd.Env = append(cmd.Environ(), p.env...)
			cmd.Env = append(cmd.Env, "PS1=prompt> ")
			f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 31, Cols: 101})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			lines := make(chan string, 100)
			go func() {
				r := bufio.NewReader(f)
				var sb strings.Builder
				for {
					b, err := r.ReadByte()
					if err != nil {
						close(lines)
						return
					}
					sb.WriteByte(b)
					if b == '\n' || strings.HasSuffix(sb.String(), "# ") || strings.HasSuffix(sb.String(), "$ ") {
						lines <- sb.String()
						sb.Reset()
					}
				}
			}()
			expect := func(what string, re *regexp.Regexp) {
				t.Helper()
				timeout := time.After(20 * time.Second)
				var seen []string
				for {
					select {
					case l, ok := <-lines:
						if !ok {
							t.Fatalf("terminal closed before %s; saw %q", what, seen)
						}
						seen = append(seen, l)
						if re.MatchString(l) {
							return
						}
					case <-timeout:
						t.Fatalf("no %s within 20s; saw %q", what, seen)
					}
				}
			}
			expect("prompt", regexp.MustCompile(`[#$] $`))
			// The size reaches the terminal asynchronously (the engine resizes an exec only once it
			// runs), so ask until it shows.
			waitSize := func(want string) {
				t.Helper()
				deadline := time.Now().Add(20 * time.Second)
				for {
					io.WriteString(f, "stty size\n")
					l := ""
					for l == "" || strings.Contains(l, "stty size") || strings.HasSuffix(l, "# ") || strings.HasSuffix(l, "$ ") {
						select {
						case l = <-lines:
						case <-time.After(5 * time.Second):
							t.Fatal("no answer to stty size")
						}
					}
					if strings.TrimSpace(l) == want {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("stty size = %q, want %s", l, want)
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
			waitSize("31 101")
			if err := pty.Setsize(f, &pty.Winsize{Rows: 42, Cols: 123}); err != nil {
				t.Fatal(err)
			}
			waitSize("42 123")
			io.WriteString(f, "exit 5\n")
			err = cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
				t.Errorf("kubectl exec -it after exit 5: %v, want exit code 5", err)
			}
		})
	}
}

// testExecErrors: a stopped container, a missing pod, an unknown container and a pod on a
// NotReady node each get an error naming the cause.
func testExecErrors(t *testing.T, env *uptest.Env) {
	ctx := context.Background()
	p := pod("stopped", nil, shellContainer("up"), corev1.Container{Name: "done", Image: shellImage, Command: []string{"true"}})
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := env.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	uptest.Eventually(t, 60*time.Second, "container done terminated", func() bool {
		p, err := env.Client.CoreV1().Pods("default").Get(ctx, "stopped", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == "done" && s.State.Terminated != nil {
				return true
			}
		}
		return false
	})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "ghost"}}
	if _, err := env.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Client.CoreV1().Nodes().Delete(context.Background(), "ghost", metav1.DeleteOptions{}) })
	ghost := pod("haunted", nil, shellContainer("sh"))
	ghost.Spec.NodeName = "ghost"
	if _, err := env.Client.CoreV1().Pods("default").Create(ctx, ghost, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			for _, tc := range []struct {
				args []string
				want string
			}{
				{[]string{"stopped", "-c", "done"}, "container done is not running"},
				{[]string{"nope"}, `pods "nope" not found`},
				{[]string{"two", "-c", "zz"}, "container zz is not valid for pod two"},
				{[]string{"haunted"}, "pod haunted is on node ghost, which is not ready"},
			} {
				out, errOut, code := kubectl(env, p.env, "", append(append([]string{"exec"}, tc.args...), "--", "true")...)
				if code == 0 || !strings.Contains(errOut, tc.want) {
					t.Errorf("exec %v: exit %d, stdout %q, stderr %q; want an error containing %q", tc.args, code, out, errOut, tc.want)
				}
			}
		})
	}
}
