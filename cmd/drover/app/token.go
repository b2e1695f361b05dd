package app

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraptokens "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecret "k8s.io/cluster-bootstrap/util/secrets"

	"github.com/drover-ci/drover/cluster/rbac"
)

// NodeBootstrapGroup is the extra group of the tokens drover token create makes, as kubeadm's
// system:bootstrappers:kubeadm:default-node-token: the group the bootstrap RBAC policy lets
// create and auto-approve node client CSRs.
const NodeBootstrapGroup = rbac.NodeBootstrapGroup

// newTokenCommand manages bootstrap tokens, the credential `drover node --token` joins with
// (kubeadm token's create, list and delete).
func newTokenCommand(s Streams, cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage bootstrap tokens, with which nodes join (drover node --token)",
		Args:  cobra.NoArgs,
	}
	var ttl time.Duration
	var description string
	var printJoin bool
	create := &cobra.Command{
		Use:   "create [TOKEN]",
		Short: "Create a bootstrap token (a bootstrap.kubernetes.io/token Secret in kube-system) and print it",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			tok := ""
			if len(args) == 1 {
				tok = args[0]
			}
			tok, err = createBootstrapToken(cmd.Context(), c.typed, tok, ttl, description, time.Now())
			if err != nil {
				return err
			}
			if !printJoin {
				fmt.Fprintln(s.Out, tok)
				return nil
			}
			hash, err := caCertHashOf(c.config)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "drover node --server %s --token %s --ca-cert-hash %s\n", c.config.Host, tok, hash)
			return nil
		},
	}
	create.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token authenticates (0: forever)")
	create.Flags().StringVar(&description, "description", "", "a note on what the token is for")
	create.Flags().BoolVar(&printJoin, "print-join-command", false, "print the whole `drover node` command a node joins with")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the bootstrap tokens (their IDs, not their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			return listBootstrapTokens(cmd.Context(), c.typed, s, time.Now())
		},
	}
	del := &cobra.Command{
		Use:   "delete TOKEN-ID|TOKEN...",
		Short: "Delete bootstrap tokens: nodes can no longer join with them",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect()
			if err != nil {
				return err
			}
			for _, a := range args {
				id, _, _ := strings.Cut(a, ".")
				if !bootstraptokens.IsValidBootstrapTokenID(id) {
					return fmt.Errorf("%q is not a bootstrap token ID ([a-z0-9]{6})", id)
				}
				err := c.typed.CoreV1().Secrets(metav1.NamespaceSystem).Delete(cmd.Context(), bootstraptokens.BootstrapTokenSecretName(id), metav1.DeleteOptions{})
				if err != nil {
					return fmt.Errorf("deleting bootstrap token %s: %w", id, err)
				}
				fmt.Fprintf(s.Out, "bootstrap token %q deleted\n", id)
			}
			return nil
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

// createBootstrapToken stores tok (a new random one when "") as Kubernetes' bootstrap token
// Secret kube-system/bootstrap-token-ID: usable for authentication and signing, in
// NodeBootstrapGroup, expiring after ttl (0: never).
func createBootstrapToken(ctx context.Context, cs kubernetes.Interface, tok string, ttl time.Duration, description string, now time.Time) (string, error) {
	if tok == "" {
		var err error
		if tok, err = bootstraptokens.GenerateBootstrapToken(); err != nil {
			return "", err
		}
	}
	if !bootstraptokens.IsValidBootstrapToken(tok) {
		return "", errors.New("a bootstrap token has the form [a-z0-9]{6}.[a-z0-9]{16}")
	}
	id, secret, _ := strings.Cut(tok, ".")
	data := map[string]string{
		bootstrapapi.BootstrapTokenIDKey:               id,
		bootstrapapi.BootstrapTokenSecretKey:           secret,
		bootstrapapi.BootstrapTokenUsageAuthentication: "true",
		bootstrapapi.BootstrapTokenUsageSigningKey:     "true",
		bootstrapapi.BootstrapTokenExtraGroupsKey:      NodeBootstrapGroup,
	}
	if ttl > 0 {
		data[bootstrapapi.BootstrapTokenExpirationKey] = now.Add(ttl).UTC().Format(time.RFC3339)
	}
	if description != "" {
		data[bootstrapapi.BootstrapTokenDescriptionKey] = description
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: bootstraptokens.BootstrapTokenSecretName(id), Namespace: metav1.NamespaceSystem},
		Type: corev1.SecretType(bootstrapapi.SecretTypeBootstrapToken), StringData: data}
	if _, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("bootstrap token %s exists", id)
		}
		return "", fmt.Errorf("creating bootstrap token: %w", err)
	}
	return tok, nil
}

func listBootstrapTokens(ctx context.Context, cs kubernetes.Interface, s Streams, now time.Time) error {
	list, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).List(ctx, metav1.ListOptions{FieldSelector: "type=" + string(bootstrapapi.SecretTypeBootstrapToken)})
	if err != nil {
		return fmt.Errorf("listing bootstrap tokens: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	w := tabwriter.NewWriter(s.Out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "TOKEN ID\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS")
	for i := range list.Items {
		sec := &list.Items[i]
		id := bootstrapsecret.GetData(sec, bootstrapapi.BootstrapTokenIDKey)
		ttl, expires := "<forever>", "<never>"
		if left, expired := bootstrapsecret.GetExpiration(sec, now); expired {
			ttl, expires = "<invalid>", bootstrapsecret.GetData(sec, bootstrapapi.BootstrapTokenExpirationKey)
		} else if left > 0 {
			ttl, expires = left.Round(time.Second).String(), bootstrapsecret.GetData(sec, bootstrapapi.BootstrapTokenExpirationKey)
		}
		var usages []string
		for _, u := range []string{"authentication", "signing"} {
			if bootstrapsecret.GetData(sec, bootstrapapi.BootstrapTokenUsagePrefix+u) == "true" {
				usages = append(usages, u)
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", id, ttl, expires, strings.Join(usages, ","),
			bootstrapsecret.GetData(sec, bootstrapapi.BootstrapTokenDescriptionKey), bootstrapsecret.GetData(sec, bootstrapapi.BootstrapTokenExtraGroupsKey))
	}
	return w.Flush()
}

// caCertHashOf is the --ca-cert-hash of the CA in cfg (its last certificate, the root).
func caCertHashOf(cfg *rest.Config) (string, error) {
	ca, err := rootCA(cfg)
	if err != nil {
		return "", err
	}
	var last *x509.Certificate
	for b, rest := pem.Decode(ca); b != nil; b, rest = pem.Decode(rest) {
		if c, err := x509.ParseCertificate(b.Bytes); err == nil && c.IsCA {
			last = c
		}
	}
	if last == nil {
		return "", errors.New("the kubeconfig has no CA certificate to print the hash of")
	}
	return CACertHash(last), nil
}
