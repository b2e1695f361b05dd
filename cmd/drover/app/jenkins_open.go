package app

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// newJenkinsOpenCommand is `drover jenkins open`: a local port forwarded to the Jenkins
// controller (Service jenkins, port http), its URL and the admin user printed, until ^C.
func newJenkinsOpenCommand(s Streams, cf *clientFlags) *cobra.Command {
	var port int
	var address []string
	cmd := &cobra.Command{
		Use:   "open",
		Short: "Forward a local port to the Jenkins controller and print its URL and admin user",
		Long: `Forwards a local port (--port, default 8080) to the Jenkins controller's http port, through
the API server (as kubectl port-forward svc/jenkins does), and prints the URL to open and the admin
user. The password is in the Secret jenkins-admin (key password); it is not printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			c.namespace = jenkinsNamespace(cmd, cf)
			ctx := cmd.Context()
			pod, ports, err := resolveForward(ctx, c, "svc/jenkins", []string{strconv.Itoa(port) + ":http"})
			if err != nil {
				return fmt.Errorf("the Jenkins controller in namespace %s: %w", c.namespace, err)
			}
			user := "admin"
			if sec, err := c.typed.CoreV1().Secrets(c.namespace).Get(ctx, jenkinsAdminSecret, metav1.GetOptions{}); err == nil && len(sec.Data["user"]) > 0 {
				user = string(sec.Data["user"])
			}
			ready := make(chan struct{})
			go func() {
				select {
				case <-ready:
					fmt.Fprintf(s.Out, "Jenkins: http://%s:%d/ (pod %s/%s)\nadmin user: %s (password: the key password of Secret %s/%s)\nforwarding until interrupted (Ctrl-C)\n",
						address[0], port, c.namespace, pod, user, c.namespace, jenkinsAdminSecret)
				case <-ctx.Done():
				}
			}()
			return forward(ctx, c, pod, address, ports, ready, Streams{In: s.In, Out: discardWriter{}, ErrOut: s.ErrOut})
		},
	}
	cmd.Flags().IntVar(&port, "port", 8080, "local port")
	cmd.Flags().StringSliceVar(&address, "address", []string{"localhost"}, "local addresses to listen on")
	return cmd
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
