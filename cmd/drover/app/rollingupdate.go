package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

type rollingUpdateOptions struct {
	file         string
	image        imageUpdate
	updatePeriod time.Duration
	interval     time.Duration
	timeout      time.Duration
}

func newRollingUpdateCommand(s Streams, cf *clientFlags) *cobra.Command {
	o := &rollingUpdateOptions{}
	cmd := &cobra.Command{
		Use:   "rolling-update OLD_CONTROLLER_NAME (-f NEW_CONTROLLER_SPEC | --image=NEW_IMAGE)",
		Short: "Replace a replication controller's pods one at a time, as Kubernetes 1.0's kubectl did",
		Long: `Replace the pods of a replication controller with those of a new one, one pod at a time:
scale the new controller up by one, wait for its pods to be ready, scale the old one down by
one, every --update-period, until the new one has all the replicas; then delete the old one.

With -f, the new controller must have a different name and differ from the old one in at
least one selector label. With --image, the new controller is derived from the old one
(named OLD-<hash>, with the hash under --deployment-label-key) and takes the old name at the end.`,
		Example: `  drover rolling-update jenkins-slave -f jenkins-slave-v2.yml --update-period=10s
  drover rolling-update jenkins-slave --image=csanchez/jenkins-swarm-slave:2.0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (o.file == "") == (o.image.image == "") {
				return errors.New("must specify exactly one of --filename or --image")
			}
			c, err := cf.connect()
			if err != nil {
				return err
			}
			return runRollingUpdate(cmd.Context(), c, s, o, args[0], cf.namespace)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "filename", "f", "", "file with the new replication controller")
	f.StringVar(&o.image.image, "image", "", "image to upgrade the controller to")
	f.StringVar(&o.image.container, "container", "", "container to update (needed for multi-container pods)")
	f.StringVar(&o.image.pullPolicy, "image-pull-policy", "", "image pull policy (Always|Never|IfNotPresent) of the new container")
	f.StringVar(&o.image.deploymentKey, "deployment-label-key", "deployment", "label key that tells the old and new controllers apart (with --image)")
	f.DurationVar(&o.updatePeriod, "update-period", time.Minute, "time to wait between scaling up and scaling down")
	f.DurationVar(&o.interval, "poll-interval", 3*time.Second, "time between polls of a controller's status")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up when no progress is made for this long")
	return cmd
}

func runRollingUpdate(ctx context.Context, c *clients, s Streams, o *rollingUpdateOptions, oldName, explicitNS string) error {
	r := &rollingUpdater{client: c.typed, ns: c.namespace, out: s.Out,
		updatePeriod: o.updatePeriod, interval: o.interval, timeout: o.timeout}
	oldRc, err := r.rcs().Get(ctx, oldName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	var newRc *corev1.ReplicationController
	policy := deleteOld
	if o.file != "" {
		if newRc, err = loadController(c, s, o.file, explicitNS); err != nil {
			return err
		}
		if err := validateNextController(oldRc, newRc, o.file); err != nil {
			return err
		}
	} else {
		policy = renameBack
		if newRc, oldRc, err = r.prepareImageUpdate(ctx, s, oldRc, o.image); err != nil {
			return err
		}
	}
	final, err := r.update(ctx, oldRc, newRc, policy)
	if err != nil {
		return err
	}
	if policy == renameBack {
		fmt.Fprintf(s.Out, "replicationcontroller/%s rolling updated\n", final.Name)
	} else {
		fmt.Fprintf(s.Out, "replicationcontroller/%s rolling updated to %q\n", final.Name, final.Name)
	}
	return nil
}

// loadController reads the new controller of a -f update.
func loadController(c *clients, s Streams, file, explicitNS string) (*corev1.ReplicationController, error) {
	docs, err := c.loadDocuments(fileFlags{filenames: []string{file}}, s.In, explicitNS)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("%s must contain exactly one replication controller, found %d objects", file, len(docs))
	}
	if gvk := docs[0].obj.GroupVersionKind(); gvk.Group != "" || gvk.Kind != "ReplicationController" {
		return nil, fmt.Errorf("%s contains a %s not a ReplicationController", file, gvk.Kind)
	}
	rc := &corev1.ReplicationController{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(docs[0].obj.Object, rc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(rc.Spec.Selector) == 0 && rc.Spec.Template != nil && len(rc.Spec.Template.Labels) > 0 {
		// Kubernetes v1 defaults the selector to the template's labels.
		rc.Spec.Selector = maps.Clone(rc.Spec.Template.Labels)
	}
	if rc.Namespace != "" && rc.Namespace != c.namespace {
		return nil, fmt.Errorf("%s: namespace %q differs from the old controller's namespace %q", file, rc.Namespace, c.namespace)
	}
	return rc, nil
}

// validateNextController checks a -f controller against the old one as kubectl 1.x did.
func validateNextController(oldRc, newRc *corev1.ReplicationController, file string) error {
	if newRc.Name == oldRc.Name {
		return fmt.Errorf("%s cannot have the same name as the existing ReplicationController %s", file, oldRc.Name)
	}
	if len(newRc.Spec.Selector) == 0 {
		return fmt.Errorf("%s must specify a selector", file)
	}
	for key, oldValue := range oldRc.Spec.Selector {
		if newValue, ok := newRc.Spec.Selector[key]; ok && newValue != oldValue {
			return nil
		}
	}
	return fmt.Errorf("%s must specify a matching key with non-equal value in Selector for %s", file, oldRc.Name)
}

// prepareImageUpdate finds the next controller of an interrupted --image update, or derives a
// new one, and marks the old controller; it returns the new and the updated old controller.
func (r *rollingUpdater) prepareImageUpdate(ctx context.Context, s Streams, oldRc *corev1.ReplicationController, u imageUpdate) (*corev1.ReplicationController, *corev1.ReplicationController, error) {
	if next := oldRc.Annotations[nextControllerAnnotation]; next != "" {
		existing, err := r.rcs().Get(ctx, next, metav1.GetOptions{})
		switch {
		case err == nil:
			img := existing.Spec.Template.Spec.Containers[0].Image
			if img != u.image {
				return nil, nil, fmt.Errorf("found existing in-progress update to image (%s); continue it with --image=%s", img, img)
			}
			fmt.Fprintf(s.Out, "Found existing update in progress (%s), resuming.\n", next)
			return existing, oldRc, nil
		case !apierrors.IsNotFound(err):
			return nil, nil, err
		}
	}
	newRc, err := newControllerFromImage(oldRc, u)
	if err != nil {
		return nil, nil, err
	}
	oldHash, err := hashObject(oldRc)
	if err != nil {
		return nil, nil, err
	}
	oldRc, err = r.markOldController(ctx, oldRc, newRc.Name, u.deploymentKey, oldHash+"-orig")
	if err != nil {
		return nil, nil, err
	}
	return newRc, oldRc, nil
}
