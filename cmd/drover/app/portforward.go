package app

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

type portForwardOptions struct{ address []string }

func newPortForwardCommand(s Streams, cf *clientFlags) *cobra.Command {
	o := &portForwardOptions{}
	cmd := &cobra.Command{
		Use:   "port-forward TYPE/NAME [LOCAL:]REMOTE...",
		Short: "Forward local ports to a pod, or to a pod behind a service (kubectl port-forward)",
		Example: `  drover port-forward pod/jenkins-0 8080
  drover port-forward -n jenkins svc/jenkins 18080:http`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			pod, ports, err := resolveForward(cmd.Context(), c, args[0], args[1:])
			if err != nil {
				return err
			}
			return forward(cmd.Context(), c, pod, o.address, ports, nil, s)
		},
	}
	cmd.Flags().StringSliceVar(&o.address, "address", []string{"localhost"}, "local addresses to listen on")
	return cmd
}

// resolveForward turns pod/NAME, svc/NAME (a running pod the service selects) or NAME and
// [LOCAL:]REMOTE specs (REMOTE a number, a container port name, or a service port name or
// number mapped to its target) into a pod name and LOCAL:PORT pairs.
func resolveForward(ctx context.Context, c *clients, target string, specs []string) (string, []string, error) {
	kind, name, ok := strings.Cut(target, "/")
	if !ok {
		kind, name = "pod", target
	}
	var svc *corev1.Service
	var pod *corev1.Pod
	switch kind {
	case "pod", "pods", "po":
		p, err := c.typed.CoreV1().Pods(c.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", nil, err
		}
		pod = p
	case "svc", "service", "services":
		s, err := c.typed.CoreV1().Services(c.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", nil, err
		}
		svc = s
		pods, err := c.typed.CoreV1().Pods(c.namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(s.Spec.Selector).String()})
		if err != nil {
			return "", nil, err
		}
		for i := range pods.Items {
			if pods.Items[i].Status.Phase == corev1.PodRunning && pods.Items[i].DeletionTimestamp == nil {
				pod = &pods.Items[i]
				break
			}
		}
		if pod == nil {
			return "", nil, fmt.Errorf("no running pod for service %s", name)
		}
	default:
		return "", nil, fmt.Errorf("cannot forward to %s: want pod/NAME or svc/NAME", target)
	}
	var out []string
	for _, spec := range specs {
		local, remote, ok := strings.Cut(spec, ":")
		if !ok {
			local, remote = "", spec
		}
		port, err := remotePort(svc, pod, remote)
		if err != nil {
			return "", nil, err
		}
		if local == "" && !ok {
			local = strconv.Itoa(port)
		}
		out = append(out, fmt.Sprintf("%s:%d", local, port))
	}
	return pod.Name, out, nil
}

// remotePort is the pod's port for remote (a service port's target when svc is set).
func remotePort(svc *corev1.Service, pod *corev1.Pod, remote string) (int, error) {
	if svc != nil {
		for _, sp := range svc.Spec.Ports {
			if sp.Name == remote || strconv.Itoa(int(sp.Port)) == remote {
				remote = sp.TargetPort.String()
				if sp.TargetPort.IntValue() == 0 && sp.TargetPort.StrVal == "" {
					remote = strconv.Itoa(int(sp.Port))
				}
				break
			}
		}
	}
	if n, err := strconv.Atoi(remote); err == nil {
		return n, nil
	}
	for _, ct := range pod.Spec.Containers {
		for _, p := range ct.Ports {
			if p.Name == remote {
				return int(p.ContainerPort), nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s has no port named %q", pod.Name, remote)
}

// forward runs client-go's port forwarder (WebSocket tunnel, SPDY when the upgrade fails, as
// kubectl) until ctx ends; ready, when set, is closed once it listens.
func forward(ctx context.Context, c *clients, pod string, address, ports []string, ready chan struct{}, s Streams) error {
	u := c.typed.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(c.config)
	if err != nil {
		return err
	}
	spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	ws, err := portforward.NewSPDYOverWebsocketDialer(u, c.config)
	if err != nil {
		return err
	}
	dialer := portforward.NewFallbackDialer(ws, spdyDialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if ready == nil {
		ready = make(chan struct{})
	}
	pf, err := portforward.NewOnAddresses(dialer, address, ports, ctx.Done(), ready, s.Out, s.ErrOut)
	if err != nil {
		return err
	}
	return pf.ForwardPorts()
}
