package app

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drover-ci/drover/agents/render"
	"github.com/drover-ci/drover/cloud/provider"
	"github.com/drover-ci/drover/cloud/runner"
)

func newJenkinsUninstallCommand(s Streams, cf *clientFlags) *cobra.Command {
	var deleteVolume bool
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove what `drover jenkins install` created; the JENKINS_HOME volume stays unless --delete-volume",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			return jenkinsUninstall(cmd.Context(), c.typed, jenkinsNamespace(cmd, cf), deleteVolume, s)
		},
	}
	cmd.Flags().BoolVar(&deleteVolume, "delete-volume", false, "also delete the claim jenkins-home-jenkins-0, its hostPath volume jenkins-home-NAMESPACE and the namespace (the files on the host stay)")
	return cmd
}

// jenkinsUninstall deletes the provider's configuration first (so it stops), then its agent
// pods, the controller and everything else install made, keeping the claim and volume
// unless deleteVolume.
func jenkinsUninstall(ctx context.Context, kube kubernetes.Interface, ns string, deleteVolume bool, s Streams) error {
	core := kube.CoreV1()
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	steps := []uninstallStep{
		{"configmap/" + runner.ConfigMapName + " -n " + runner.ConfigNamespace, func() error {
			return core.ConfigMaps(runner.ConfigNamespace).Delete(ctx, runner.ConfigMapName, opts)
		}, false},
		{"statefulset/" + jenkinsSet, func() error { return kube.AppsV1().StatefulSets(ns).Delete(ctx, jenkinsSet, opts) }, false},
		{"replicationcontroller/jenkins", func() error { return core.ReplicationControllers(ns).Delete(ctx, "jenkins", opts) }, true},
		{"service/jenkins", func() error { return core.Services(ns).Delete(ctx, "jenkins", opts) }, false},
		{"configmap/jenkins-init", func() error { return core.ConfigMaps(ns).Delete(ctx, "jenkins-init", opts) }, false},
		{"configmap/" + provider.StatusConfigMap, func() error { return core.ConfigMaps(ns).Delete(ctx, provider.StatusConfigMap, opts) }, false},
		{"secret/" + jenkinsAdminSecret, func() error { return core.Secrets(ns).Delete(ctx, jenkinsAdminSecret, opts) }, false},
	}
	if deleteVolume {
		steps = append(steps,
			uninstallStep{"persistentvolumeclaim/" + jenkinsClaim, func() error {
				return core.PersistentVolumeClaims(ns).Delete(ctx, jenkinsClaim, opts)
			}, false},
			uninstallStep{"persistentvolumeclaim/" + jenkinsOldClaim, func() error {
				return core.PersistentVolumeClaims(ns).Delete(ctx, jenkinsOldClaim, opts)
			}, true},
			uninstallStep{"persistentvolume/jenkins-home-" + ns, func() error { return core.PersistentVolumes().Delete(ctx, "jenkins-home-"+ns, opts) }, false},
			uninstallStep{"namespace/" + ns, func() error { return core.Namespaces().Delete(ctx, ns, opts) }, false},
		)
	}
	for _, st := range steps {
		switch err := st.del(); {
		case err == nil:
			fmt.Fprintf(s.Out, "%s deleted\n", st.what)
		case apierrors.IsNotFound(err):
			if !st.quiet {
				fmt.Fprintf(s.Out, "%s not found\n", st.what)
			}
		default:
			return fmt.Errorf("deleting %s: %w", st.what, err)
		}
		if st.what == "configmap/"+runner.ConfigMapName+" -n "+runner.ConfigNamespace {
			if err := deleteAgentPods(ctx, kube, ns, s); err != nil {
				return err
			}
		}
	}
	if !deleteVolume {
		fmt.Fprintf(s.Out, "kept persistentvolumeclaim/%s in %s (and its volume): JENKINS_HOME survives a re-install; --delete-volume removes them\n", jenkinsClaim, ns)
	}
	return nil
}

type uninstallStep struct {
	what string
	del  func() error
	// quiet: nothing is said when the object is not there (what installs before the
	// StatefulSet made).
	quiet bool
}

// deleteAgentPods removes the agent pods (and their Secrets) the provider left in ns.
func deleteAgentPods(ctx context.Context, kube kubernetes.Interface, ns string, s Streams) error {
	sel := metav1.ListOptions{LabelSelector: render.LabelAgent}
	pods, err := kube.CoreV1().Pods(ns).List(ctx, sel)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("listing agent pods: %w", err)
	}
	if pods != nil {
		for _, p := range pods.Items {
			if err := kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting agent pod %s: %w", p.Name, err)
			}
			fmt.Fprintf(s.Out, "pod/%s deleted (agent)\n", p.Name)
		}
	}
	secs, err := kube.CoreV1().Secrets(ns).List(ctx, sel)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("listing agent secrets: %w", err)
	}
	if secs != nil {
		for _, sec := range secs.Items {
			if err := kube.CoreV1().Secrets(ns).Delete(ctx, sec.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting agent secret %s: %w", sec.Name, err)
			}
		}
	}
	return nil
}
