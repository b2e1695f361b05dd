package app

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

type logsOptions struct {
	container  string
	follow     bool
	tail       int64
	previous   bool
	timestamps bool
}

func newLogsCommand(s Streams, cf *clientFlags) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs POD [-c CONTAINER]",
		Short: "Print the logs of a container in a pod",
		Example: `  drover logs jenkins-abc12
  drover logs -f pod/jenkins-abc12 -c jenkins --tail 20`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			name := strings.TrimPrefix(strings.TrimPrefix(args[0], "pods/"), "pod/")
			return streamLogs(cmd.Context(), c.typed, c.namespace, name, o, s.Out)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.container, "container", "c", "", "container name (required when the pod has several)")
	f.BoolVarP(&o.follow, "follow", "f", false, "stream the logs")
	f.Int64Var(&o.tail, "tail", -1, "number of recent lines to show (-1: all)")
	f.BoolVarP(&o.previous, "previous", "p", false, "logs of the previous instance of the container")
	f.BoolVar(&o.timestamps, "timestamps", false, "prefix each line with its timestamp")
	return cmd
}

// streamLogs copies a container's log from the pods/log subresource to out.
func streamLogs(ctx context.Context, cs kubernetes.Interface, ns, pod string, o *logsOptions, out io.Writer) error {
	container := o.container
	if container == "" {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		names := make([]string, len(p.Spec.Containers))
		for i, c := range p.Spec.Containers {
			names[i] = c.Name
		}
		if len(names) > 1 {
			return fmt.Errorf("a container name must be specified for pod %s, choose one of: %v", pod, names)
		}
	}
	opts := &corev1.PodLogOptions{Container: container, Follow: o.follow, Previous: o.previous, Timestamps: o.timestamps}
	if o.tail >= 0 {
		opts.TailLines = &o.tail
	}
	stream, err := cs.CoreV1().Pods(ns).GetLogs(pod, opts).Stream(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	if _, err := io.Copy(out, stream); err != nil && ctx.Err() == nil {
		return fmt.Errorf("reading logs: %w", err)
	}
	return nil
}
