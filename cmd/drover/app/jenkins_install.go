package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/drover-ci/drover/charts"
	"github.com/drover-ci/drover/cloud/chart"
)

// jenkinsInstallOptions are the flags of `drover jenkins install`.
type jenkinsInstallOptions struct {
	image, adminUser, adminTokenFile, storage string
	agentImage, agentLabel                    string
	agentWebSocket, agentInjection            bool
	agentServiceAccount                       string
	agentAutomountToken                       bool
	livenessDelay                             int
	chartDir                                  string
	sets                                      []string
	dryRun, wait                              bool
	timeout                                   time.Duration
}

// apiTokenRE is a Jenkins "fixed" API token: 11 and 32 lower-case hex digits.
var apiTokenRE = regexp.MustCompile(`^11[0-9a-f]{32}$`)

// jenkinsAdminSecret is the Secret with the administrator's user, password and API token.
const jenkinsAdminSecret = "jenkins-admin"

func newJenkinsInstallCommand(s Streams, cf *clientFlags) *cobra.Command {
	o := &jenkinsInstallOptions{}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install (or update) a Jenkins controller and configure drover's Jenkins cloud provider for it",
		Long: `install renders the jenkins chart (embedded, or --chart DIR) and creates or updates its objects:
the namespace (-n, default jenkins), the Secret jenkins-admin (admin user, password and API token,
generated unless --admin-token-file gives the token; kept across re-runs), the ConfigMap jenkins-init
(a core init.groovy.d script that sets up the admin and its token), a hostPath PV for JENKINS_HOME
(unless an Available volume fits), the Service jenkins, the StatefulSet jenkins (one pod, jenkins-0,
with JENKINS_HOME on its claim jenkins-home-jenkins-0) and the ConfigMap kube-system/drover-jenkins-cloud
the provider follows. Re-running updates: a changed spec (a new --image, say) rolls the pod, and
install waits for the new one; nothing is duplicated. An install made before the StatefulSet (the
ReplicationController jenkins) is migrated, JENKINS_HOME's volume kept.

Agents connect over WebSocket by default: the official jenkins/jenkins image without plugins
offers no JNLP4-connect on its TCP agent port ("invalid X-Instance-Identity"). --agent-websocket=false
configures TCP agents through the Service's port 50000 (jenkinsTunnel) for a controller with the
instance-identity plugin.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), s, cf, jenkinsNamespace(cmd, cf))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.image, "image", "jenkins/jenkins:lts-jdk17", "Jenkins controller image")
	f.StringVar(&o.adminUser, "admin-user", "admin", "Jenkins administrator the provider acts as")
	f.StringVar(&o.adminTokenFile, "admin-token-file", "", "file with the administrator's API token (11 and 32 hex digits; default: the existing Secret's, else a generated one)")
	f.StringVar(&o.storage, "storage", "8Gi", "size of the JENKINS_HOME volume claim")
	f.StringVar(&o.agentImage, "agent-image", "jenkins/inbound-agent:latest-jdk17", "image of the default agent template")
	f.StringVar(&o.agentLabel, "agent-label", "docker", "label(s) of the default agent template")
	f.BoolVar(&o.agentWebSocket, "agent-websocket", true, "agents connect over WebSocket (false: TCP through the agent port, which needs the instance-identity plugin on the controller)")
	f.BoolVar(&o.agentInjection, "agent-injection", false, "run the controller's agent.jar in --agent-image (any image with java) instead of the image's own agent")
	f.StringVar(&o.agentServiceAccount, "agent-service-account", "", "ServiceAccount the agent pods run as (default: the namespace's \"default\", bound to nothing)")
	f.BoolVar(&o.agentAutomountToken, "agent-automount-token", false, "mount the agents' ServiceAccount token into them (off: a build gets no API credential)")
	f.IntVar(&o.livenessDelay, "liveness-delay", 90, "initialDelaySeconds of the controller's liveness probe")
	f.StringVar(&o.chartDir, "chart", "", "render this chart directory instead of the embedded charts/jenkins")
	f.StringArrayVar(&o.sets, "set", nil, "chart value KEY=VALUE (repeatable; applied after the flags above)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the manifests (Secret values hidden) without applying them")
	f.BoolVar(&o.wait, "wait", true, "wait for the StatefulSet's rollout: its pod runs the new spec and is Ready")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long --wait waits")
	return cmd
}

func (o *jenkinsInstallOptions) run(ctx context.Context, s Streams, cf *clientFlags, ns string) error {
	if _, err := resource.ParseQuantity(o.storage); err != nil {
		return fmt.Errorf("--storage %q: %w", o.storage, err)
	}
	var token string
	if o.adminTokenFile != "" {
		b, err := os.ReadFile(o.adminTokenFile)
		if err != nil {
			return fmt.Errorf("--admin-token-file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); !apiTokenRE.MatchString(token) {
			return fmt.Errorf("--admin-token-file %s: not a Jenkins API token (11 and 32 lower-case hex digits)", o.adminTokenFile)
		}
	}
	fsys := charts.Jenkins()
	if o.chartDir != "" {
		fsys = os.DirFS(o.chartDir)
	}
	if o.dryRun {
		docs, err := o.render(fsys, ns, "<password>", "<token>", true)
		if err != nil {
			return err
		}
		for i := range docs {
			if docs[i].Kind == "Secret" {
				docs[i].YAML = "# Secret " + docs[i].Name + " (keys user, password, token): values not shown\nkind: Secret\n"
			}
		}
		fmt.Fprint(s.Out, chart.Manifest(docs))
		return nil
	}
	c, err := cf.connect()
	if err != nil {
		return err
	}
	kube := c.typed
	if err := ensureNamespace(ctx, kube, ns, s); err != nil {
		return err
	}
	password, token, err := adminCredentials(ctx, kube, ns, token)
	if err != nil {
		return err
	}
	old, err := findRCInstall(ctx, kube, ns)
	if err != nil {
		return err
	}
	createVolume, err := needVolume(ctx, kube, ns, o.storage, old)
	if err != nil {
		return err
	}
	docs, err := o.render(fsys, ns, password, token, createVolume)
	if err != nil {
		return err
	}
	if old != nil {
		if err := old.migrate(ctx, kube, ns, o.timeout, s); err != nil {
			return fmt.Errorf("migrating to the StatefulSet: %w (running install again continues the migration)", err)
		}
	}
	for _, d := range docs {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(d.YAML), nil, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", d.Source, err)
		}
		what, err := applyObject(ctx, kube, obj)
		if err != nil {
			return fmt.Errorf("%s %s: %w", strings.ToLower(d.Kind), d.Name, err)
		}
		fmt.Fprintf(s.Out, "%s/%s %s\n", strings.ToLower(d.Kind), d.Name, what)
	}
	host := "jenkins." + ns + ".svc.cluster.local"
	fmt.Fprintf(s.Out, "Jenkins: http://%s:8080/ (Service jenkins in %s); admin user %q, password and API token in Secret %s/%s\n",
		host, ns, o.adminUser, ns, jenkinsAdminSecret)
	if !o.wait {
		return nil
	}
	return waitForRollout(ctx, kube, ns, o.timeout, s)
}

// render renders the chart with the flags' values, then --set.
func (o *jenkinsInstallOptions) render(fsys fs.FS, ns, password, token string, createVolume bool) ([]chart.Document, error) {
	ch, err := chart.Load(fsys)
	if err != nil {
		return nil, err
	}
	vals := map[string]any{
		"image":           o.image,
		"createNamespace": false,
		"admin":           map[string]any{"user": o.adminUser, "password": password, "token": token},
		"persistence":     map[string]any{"size": o.storage, "createVolume": createVolume},
		"livenessDelay":   int64(o.livenessDelay),
		"agent": map[string]any{"image": o.agentImage, "label": o.agentLabel,
			"webSocket": o.agentWebSocket, "agentInjection": o.agentInjection,
			"serviceAccount": o.agentServiceAccount, "automountServiceAccountToken": o.agentAutomountToken},
	}
	for _, a := range o.sets {
		if err := chart.Set(vals, a); err != nil {
			return nil, err
		}
	}
	return ch.Render(chart.Release{Name: "jenkins", Namespace: ns}, vals)
}

func ensureNamespace(ctx context.Context, kube kubernetes.Interface, ns string, s Streams) error {
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "drover"}}}, metav1.CreateOptions{})
	switch {
	case err == nil:
		fmt.Fprintf(s.Out, "namespace/%s created\n", ns)
	case apierrors.IsAlreadyExists(err):
		fmt.Fprintf(s.Out, "namespace/%s unchanged\n", ns)
	default:
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	return nil
}

// adminCredentials returns the password and token: the existing Secret's, with token (from
// --admin-token-file) replacing its token when given; generated when there is none.
func adminCredentials(ctx context.Context, kube kubernetes.Interface, ns, token string) (password, tok string, err error) {
	sec, err := kube.CoreV1().Secrets(ns).Get(ctx, jenkinsAdminSecret, metav1.GetOptions{})
	switch {
	case err == nil:
		password, tok = string(sec.Data["password"]), string(sec.Data["token"])
	case !apierrors.IsNotFound(err):
		return "", "", fmt.Errorf("secret %s: %w", jenkinsAdminSecret, err)
	}
	if token != "" {
		tok = token
	}
	if password == "" {
		password = randomHex(12)
	}
	if !apiTokenRE.MatchString(tok) {
		tok = "11" + randomHex(16)
	}
	return password, tok, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// needVolume tells whether the chart should create the hostPath PV: yes unless the
// StatefulSet's claim (or the claim of an install being migrated) is bound to another volume, or
// an Available unclaimed volume without a class fits the new claim.
func needVolume(ctx context.Context, kube kubernetes.Interface, ns, storage string, old *rcInstall) (bool, error) {
	own := "jenkins-home-" + ns
	pvc, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, jenkinsClaim, metav1.GetOptions{})
	if err == nil {
		return pvc.Spec.VolumeName == own, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, err
	}
	if old != nil && old.volume != "" {
		return old.volume == own, nil
	}
	want := resource.MustParse(storage)
	pvs, err := kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	for _, pv := range pvs.Items {
		if pv.Name == own {
			return true, nil
		}
	}
	for _, pv := range pvs.Items {
		size := pv.Spec.Capacity[corev1.ResourceStorage]
		if pv.Status.Phase == corev1.VolumeAvailable && pv.Spec.ClaimRef == nil && pv.Spec.StorageClassName == "" &&
			hasMode(pv.Spec.AccessModes, corev1.ReadWriteOnce) && size.Cmp(want) >= 0 {
			return false, nil
		}
	}
	return true, nil
}

func hasMode(modes []corev1.PersistentVolumeAccessMode, m corev1.PersistentVolumeAccessMode) bool {
	for _, x := range modes {
		if x == m {
			return true
		}
	}
	return false
}
