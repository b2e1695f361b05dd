package runner

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cloud/config"
)

// credentials returns the Jenkins user and API token named by c: from an environment
// variable, a file (white space trimmed) or the Secret c.Secret in namespace ns (keys "user"
// and "token"; c.User wins over the Secret's user). The token never appears in an error.
func (r *Runner) credentials(ctx context.Context, c config.Credentials, ns string) (user, token string, err error) {
	user = c.User
	switch {
	case c.TokenEnv != "":
		getenv := r.cfg.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		if token = getenv(c.TokenEnv); token == "" {
			return "", "", fmt.Errorf("credentials.tokenEnv: $%s is empty or not set", c.TokenEnv)
		}
	case c.TokenFile != "":
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return "", "", fmt.Errorf("credentials.tokenFile: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return "", "", fmt.Errorf("credentials.tokenFile: %s is empty", c.TokenFile)
		}
	case c.Secret != "":
		s, err := r.client.CoreV1().Secrets(ns).Get(ctx, c.Secret, metav1.GetOptions{})
		if err != nil {
			return "", "", fmt.Errorf("credentials.secret: %w", err)
		}
		token = strings.TrimSpace(string(s.Data["token"]))
		if token == "" {
			return "", "", fmt.Errorf("credentials.secret: %s/%s has no key \"token\"", ns, c.Secret)
		}
		if user == "" {
			user = strings.TrimSpace(string(s.Data["user"]))
		}
	}
	return user, token, nil
}

// ServiceHost splits a host naming a Service: NAME.NS.svc.cluster.local and NAME.NS.svc
// always do (must); NAME.NS does only if such a Service exists.
func ServiceHost(host string) (name, ns string, must bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if net.ParseIP(host) != nil {
		return "", "", false
	}
	p := strings.Split(host, ".")
	switch {
	case len(p) == 5 && p[2] == "svc" && p[3] == "cluster" && p[4] == "local":
		return p[0], p[1], true
	case len(p) == 3 && p[2] == "svc":
		return p[0], p[1], true
	case len(p) == 2 && p[0] != "" && p[1] != "":
		return p[0], p[1], false
	}
	return "", "", false
}

// WaitingError is a reason the provider cannot start yet that is expected while Jenkins is
// being installed or restarted — its Service not created yet, no cluster IP yet, no ready pod
// behind it — rather than a failure: it is reported as a Normal event and in the status, not
// as a ProviderFailed warning.
type WaitingError struct{ Msg string }

func (e *WaitingError) Error() string { return e.Msg }

// hasReadyEndpoints reports whether the Endpoints of Service ns/name list a ready address.
func (r *Runner) hasReadyEndpoints(ctx context.Context, ns, name string) (bool, error) {
	ep, err := r.client.CoreV1().Endpoints(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, ss := range ep.Subsets {
		if len(ss.Addresses) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// resolveURL replaces a host naming a Service by the Service's cluster IP (the port stays).
func (r *Runner) resolveURL(ctx context.Context, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("url: %w", err)
	}
	name, ns, must := ServiceHost(u.Hostname())
	if name == "" {
		return raw, nil
	}
	svc, err := r.client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && !must {
		return raw, nil
	}
	if apierrors.IsNotFound(err) {
		return "", &WaitingError{fmt.Sprintf("url %s: Service %s/%s does not exist yet", raw, ns, name)}
	}
	if err != nil {
		return "", fmt.Errorf("url %s: Service %s/%s: %w", raw, ns, name, err)
	}
	ip := svc.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone {
		return "", &WaitingError{fmt.Sprintf("url %s: Service %s/%s has no cluster IP yet", raw, ns, name)}
	}
	// Connecting to a cluster IP with nothing behind it fails with a bare EOF or a reset: say
	// what is missing instead.
	if ready, err := r.hasReadyEndpoints(ctx, ns, name); err != nil {
		return "", fmt.Errorf("url %s: Endpoints %s/%s: %w", raw, ns, name, err)
	} else if !ready {
		return "", &WaitingError{fmt.Sprintf("url %s: Service %s/%s has no ready endpoints yet: "+
			"the Jenkins controller pod is not running or not Ready (kubectl get pods -n %s)", raw, ns, name, ns)}
	}
	if port := u.Port(); port != "" {
		u.Host = net.JoinHostPort(ip, port)
	} else {
		u.Host = ip
		if strings.Contains(ip, ":") {
			u.Host = "[" + ip + "]"
		}
	}
	return u.String(), nil
}
