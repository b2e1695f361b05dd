package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/cloud/provider"
)

func newJenkinsStatusCommand(s Streams, cf *clientFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the Jenkins cloud provider's templates, agents, waiting queue items and recent failures",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "json" {
				return fmt.Errorf("-o %q: only json is supported (default: tables)", output)
			}
			c, err := cf.connect()
			if err != nil {
				return err
			}
			return jenkinsStatus(cmd.Context(), c.typed, jenkinsNamespace(cmd, cf), output, time.Now(), s)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json: the status document as the provider wrote it")
	return cmd
}

func jenkinsStatus(ctx context.Context, kube kubernetes.Interface, ns, output string, now time.Time, s Streams) error {
	cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, provider.StatusConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && cm.Data[provider.StatusKey] == "") {
		fmt.Fprintf(s.Out, "No Jenkins cloud status in namespace %s yet: the provider has not run there.\n"+
			"Configure it with `drover jenkins install` (or the jenkins: section of drover's configuration file),\n"+
			"check that `drover up`/`drover server` runs the controllers, or give the provider's namespace with -n.\n", ns)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading configmap %s/%s: %w", ns, provider.StatusConfigMap, err)
	}
	raw := cm.Data[provider.StatusKey]
	var st provider.Status
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return fmt.Errorf("configmap %s/%s: %w", ns, provider.StatusConfigMap, err)
	}
	if output == "json" {
		var b bytes.Buffer
		if err := json.Indent(&b, []byte(raw), "", "  "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err := s.Out.Write(b.Bytes())
		return err
	}
	printJenkinsStatus(s.Out, st, now)
	return nil
}

// printJenkinsStatus prints st as kubectl-like tables; ages are relative to now.
func printJenkinsStatus(out io.Writer, st provider.Status, now time.Time) {
	age := func(t time.Time) string {
		if t.IsZero() {
			return "<unknown>"
		}
		return duration.HumanDuration(now.Sub(t))
	}
	printStatusHeader(out, st, age)
	printTemplates(out, st.Templates, now)
	printAgentsAndQueue(out, st, age)
	printLosses(out, st, age)
}

// printStatusHeader prints Jenkins' address and state, the listener and the warnings.
func printStatusHeader(out io.Writer, st provider.Status, age func(time.Time) string) {
	jenkins := st.JenkinsURL
	if st.JenkinsError != "" {
		jenkins += "  ERROR: " + st.JenkinsError
	} else {
		jenkins += "  connected"
	}
	fmt.Fprintf(out, "Jenkins:        %s\n", jenkins)
	fmt.Fprintf(out, "Namespace:      %s\n", st.Namespace)
	fmt.Fprintf(out, "Container cap:  %s\n", capText(st.ContainerCap))
	fmt.Fprintf(out, "Updated:        %s ago\n", age(st.UpdatedAt))
	if l := st.Listener; l != nil {
		fmt.Fprintf(out, "Agent listener: %s\n", listenerText(*l))
	}
	if len(st.Warnings) > 0 {
		fmt.Fprintln(out, "\nWARNINGS")
		for _, w := range st.Warnings {
			fmt.Fprintf(out, "  %s\n", oneLine(w))
		}
	}
}

func printTemplates(out io.Writer, templates []provider.TemplateStatus, now time.Time) {
	fmt.Fprintln(out, "\nTEMPLATES")
	table(out, "NAME\tLABEL\tMODE\tCAP\tMIN-IDLE\tDEMAND\tPENDING\tSTARTING\tIDLE\tBUSY\tOFFLINE\tBACK-OFF", func(w io.Writer) {
		for _, t := range templates {
			backoff := "-"
			if t.BackoffUntil != nil && t.BackoffUntil.After(now) {
				backoff = fmt.Sprintf("%s left: %s", duration.HumanDuration(t.BackoffUntil.Sub(now)), t.BackoffReason)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", t.Name, dash(t.Label), dash(t.Mode), capText(t.InstanceCap),
				t.MinIdle, t.Demand, t.Pending, t.Starting, t.Idle, t.Busy, t.Offline, backoff)
		}
	})
}

func printAgentsAndQueue(out io.Writer, st provider.Status, age func(time.Time) string) {
	fmt.Fprintln(out, "\nAGENTS")
	if len(st.Agents) == 0 {
		fmt.Fprintln(out, "none")
	} else {
		table(out, "NAME\tTEMPLATE\tSTATE\tAGE\tPOD\tREASON", func(w io.Writer) {
			for _, a := range st.Agents {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.Template, a.State, age(a.Created), dash(a.Pod), dash(a.Reason))
			}
		})
	}
	fmt.Fprintln(out, "\nQUEUE")
	if len(st.Queue) == 0 {
		fmt.Fprintln(out, "empty")
		return
	}
	table(out, "ID\tTASK\tLABEL\tAGE\tTEMPLATE\tJENKINS SAYS\tWAITING", func(w io.Writer) {
		for _, q := range st.Queue {
			waiting := q.Waiting
			switch {
			case waiting == "" && q.Agent != "":
				waiting = "an agent is coming: " + q.Agent
			case waiting == "":
				waiting = "an agent is coming"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", strconv.FormatInt(q.ID, 10), q.Task, dash(q.Label), age(q.Since), dash(q.Template), dash(oneLine(q.Why)), oneLine(waiting))
		}
	})
}

// printLosses prints the builds lost to infrastructure and the recent agent failures, newest first.
func printLosses(out io.Writer, st provider.Status, age func(time.Time) string) {
	if len(st.Requeues) > 0 {
		fmt.Fprintln(out, "\nBUILDS LOST TO INFRASTRUCTURE")
		table(out, "AGE\tBUILD\tTEMPLATE\tAGENT\tREASON\tATTEMPT\tSTATE\tDETAIL", func(w io.Writer) {
			for i := len(st.Requeues) - 1; i >= 0; i-- {
				r := st.Requeues[i]
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", age(r.LostAt), r.Build, r.Template, dash(r.Agent), r.Reason, r.Attempt, r.State, dash(oneLine(r.Detail)))
			}
		})
	}
	if len(st.Failures) > 0 {
		fmt.Fprintln(out, "\nRECENT FAILURES")
		table(out, "AGE\tTEMPLATE\tAGENT\tREASON\tMESSAGE", func(w io.Writer) {
			for i := len(st.Failures) - 1; i >= 0; i-- {
				f := st.Failures[i]
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", age(f.Time), f.Template, f.Agent, f.Reason, oneLine(f.Message))
			}
		})
	}
}

// table writes header and the tab-separated lines rows writes, aligned in columns.
func table(out io.Writer, header string, rows func(w io.Writer)) {
	w := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, header)
	rows(w)
	w.Flush()
}

// listenerText says what the controller's TCP agent listener offers and what follows for agents.
func listenerText(l provider.ListenerStatus) string {
	switch {
	case !l.Enabled:
		return "disabled (TCP agents cannot connect; WebSocket agents can)"
	case l.JNLP4:
		return fmt.Sprintf("port %d, %s", l.Port, strings.Join(l.Protocols, ", "))
	default:
		return fmt.Sprintf("port %d, %s: no JNLP4-connect (TCP agents cannot connect: install the instance-identity plugin, or use WebSocket agents)",
			l.Port, dash(strings.Join(l.Protocols, ", ")))
	}
}

func capText(n int) string {
	if n <= 0 {
		return "none"
	}
	return strconv.Itoa(n)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
