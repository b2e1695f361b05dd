package streame2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/internal/uptest"
)

const (
	shellImage  = "drover/shell:1"
	serverImage = "drover/testserver:1"
	jenkinsImg  = "drover/fake-jenkins:1"
)

var (
	envOnce sync.Once
	shared  *uptest.Env
	envT    *testing.T
)

// start runs one drover up for the package (its network and ranges are this package's own).
func start(t testing.TB) *uptest.Env {
	t.Helper()
	return uptest.Start(t, uptest.Options{Name: "stream", Subnet: "10.130.0.0/16", ServiceCIDR: "10.131.0.0/16",
		ClusterDNS: "10.132.0.10", NodePortRange: "32900-32999", NeedKubectl: true,
		Images: []string{shellImage, serverImage, jenkinsImg}})
}

// kubectl runs kubectl against env with extra environment variables, returning stdout,
// stderr and the exit code.
func kubectl(env *uptest.Env, extraEnv []string, stdin string, args ...string) (string, string, int) {
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), extraEnv...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

// protocols are kubectl's two ways of streaming: WebSocket (1.32's default) and SPDY.
var protocols = []struct {
	name string
	env  []string
}{
	{"websocket", nil},
	{"spdy", []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}},
}

// createPod creates pod and waits until it runs with every container ready.
func createPod(t testing.TB, env *uptest.Env, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	if pod.Namespace == "" {
		pod.Namespace = "default"
	}
	if _, err := env.Client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *corev1.Pod
	uptest.Eventually(t, 90*time.Second, "pod "+pod.Name+" running and ready", func() bool {
		p, err := env.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning {
			return false
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				got = p
				return true
			}
		}
		return false
	})
	return got
}

func shellContainer(name string, env ...corev1.EnvVar) corev1.Container {
	return corev1.Container{Name: name, Image: shellImage, Command: []string{"sleep", "100000"}, Env: env}
}

func serverContainer(name string, port int) corev1.Container {
	return corev1.Container{Name: name, Image: serverImage, Env: []corev1.EnvVar{{Name: "PORT", Value: fmt.Sprint(port)}},
		Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstrPort(port)}}, PeriodSeconds: 1}}
}

func pod(name string, labels map[string]string, cs ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.PodSpec{Containers: cs}}
}
