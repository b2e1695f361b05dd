package config

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation"
)

// MaxTemplateName is the longest template name: agent pods, Secrets and
// Jenkins nodes are named NAME-xxxxx, a DNS-1123 label of at most 63.
const MaxTemplateName = validation.DNS1123LabelMaxLength - len("-xxxxx")

// labelForbidden are the characters of the label expression language; a
// template label (one word of Label) may contain none of them.
const labelForbidden = "!&|()<>=\"'"

// Validate checks the configuration and returns every problem found, each
// prefixed with its field path (e.g. "templates[1].image: required"), joined
// with errors.Join; nil when the configuration is usable.
func (c *Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if err := checkURL(c.URL, true); err != nil {
		add("url", "%v", err)
	}
	if err := checkURL(c.JenkinsURL, false); err != nil {
		add("jenkinsUrl", "%v", err)
	}
	c.Credentials.validate(add)
	nonNegative(add, "containerCap", c.ContainerCap)
	nonNegative(add, "connectTimeout", int(c.ConnectTimeout.Duration))
	nonNegative(add, "readTimeout", int(c.ReadTimeout.Duration))
	if c.PollInterval.Duration < 0 {
		add("pollInterval", "must not be negative")
	}
	if r := c.CacheRoot; r != "" && (!path.IsAbs(r) || path.Clean(r) != r) {
		add("cacheRoot", "must be an absolute, clean path (it holds the caches' hostPath volumes), got %q", r)
	}
	seen := map[string]int{}
	for i, t := range c.Templates {
		p := fmt.Sprintf("templates[%d]", i)
		if j, dup := seen[t.Name]; dup && t.Name != "" {
			add(p+".name", "duplicate of templates[%d].name %q", j, t.Name)
		} else {
			seen[t.Name] = i
		}
		t.validate(p, add)
	}
	return errors.Join(errs...)
}

type adder func(path, format string, args ...any)

func (c Credentials) validate(add adder) {
	sources := 0
	for _, s := range []string{c.TokenEnv, c.TokenFile, c.Secret} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources > 1 && c.Secret != "":
		add("credentials", "secret, tokenEnv and tokenFile are exclusive")
	case sources > 1:
		add("credentials", "tokenEnv and tokenFile are exclusive")
	case c.User != "" && sources == 0:
		add("credentials", "user without tokenEnv or tokenFile (or secret)")
	}
	if c.Secret != "" {
		if msgs := validation.IsDNS1123Subdomain(c.Secret); len(msgs) > 0 {
			add("credentials.secret", "%q: not a Secret name: %s", c.Secret, strings.Join(msgs, "; "))
		}
	}
}

func (t Template) validate(p string, add adder) {
	if t.Name == "" {
		add(p+".name", "required")
	} else if len(t.Name) > MaxTemplateName {
		add(p+".name", "%q: longer than %d characters (agent names add a 6-character suffix to make a DNS-1123 label)", t.Name, MaxTemplateName)
	} else if msgs := validation.IsDNS1123Label(t.Name); len(msgs) > 0 {
		add(p+".name", "%q: not a DNS-1123 label (agents are named after it): %s", t.Name, strings.Join(msgs, "; "))
	}
	if t.Image == "" {
		add(p+".image", "required")
	}
	for _, l := range t.Labels() {
		if strings.ContainsAny(l, labelForbidden) {
			add(p+".label", "%q: a label must not contain any of %s", l, labelForbidden)
		}
	}
	switch t.Mode {
	case "", ModeInbound, ModeWebSocket, ModeSwarm:
	default:
		add(p+".mode", "%q: must be one of %s, %s, %s", t.Mode, ModeInbound, ModeWebSocket, ModeSwarm)
	}
	nonNegative(add, p+".instanceCap", t.InstanceCap)
	nonNegative(add, p+".idleMinutes", t.IdleMinutes)
	nonNegative(add, p+".minIdle", t.MinIdle)
	nonNegative(add, p+".connectTimeout", int(t.ConnectTimeout.Duration))
	nonNegative(add, p+".pendingTimeout", int(t.PendingTimeout.Duration))
	if t.InstanceCap > 0 && t.MinIdle > t.InstanceCap {
		add(p+".minIdle", "%d exceeds instanceCap %d", t.MinIdle, t.InstanceCap)
	}
	for j, w := range t.WarmSchedules {
		wp := fmt.Sprintf("%s.warmSchedules[%d]", p, j)
		if _, err := cron.ParseStandard(w.Cron); err != nil {
			add(wp+".cron", "%v", err)
		}
		if w.Duration.Duration <= 0 {
			add(wp+".duration", "must be positive")
		}
		nonNegative(add, wp+".minIdle", w.MinIdle)
	}
	if t.RetryLostBuilds != nil {
		nonNegative(add, p+".retryLostBuilds", *t.RetryLostBuilds)
	}
	if t.ServiceAccount != "" {
		if msgs := validation.IsDNS1123Subdomain(t.ServiceAccount); len(msgs) > 0 {
			add(p+".serviceAccount", "%q: not a ServiceAccount name: %s", t.ServiceAccount, strings.Join(msgs, "; "))
		}
	}
	t.validateCaches(p, add)
}

// validateCaches checks the template's caches: names are DNS-1123 labels
// (claims are named after them) and unique, mount paths absolute, unique
// and not remoteFS, sizes positive.
func (t Template) validateCaches(p string, add adder) {
	names, paths := map[string]int{}, map[string]int{}
	for j, c := range t.Caches {
		cp := fmt.Sprintf("%s.caches[%d]", p, j)
		switch {
		case c.Name == "":
			add(cp+".name", "required")
		case len(c.Name) > MaxCacheName:
			add(cp+".name", "%q: longer than %d characters", c.Name, MaxCacheName)
		default:
			if msgs := validation.IsDNS1123Label(c.Name); len(msgs) > 0 {
				add(cp+".name", "%q: not a DNS-1123 label: %s", c.Name, strings.Join(msgs, "; "))
			}
			if k, dup := names[c.Name]; dup {
				add(cp+".name", "duplicate of %s.caches[%d].name %q", p, k, c.Name)
			}
			names[c.Name] = j
		}
		switch {
		case c.MountPath == "":
			add(cp+".mountPath", "required")
		case !path.IsAbs(c.MountPath):
			add(cp+".mountPath", "%q: must be an absolute path", c.MountPath)
		case path.Clean(c.MountPath) == path.Clean(t.RemoteFS) && t.RemoteFS != "":
			add(cp+".mountPath", "%q: is remoteFS (the workspace)", c.MountPath)
		default:
			if k, dup := paths[path.Clean(c.MountPath)]; dup {
				add(cp+".mountPath", "duplicate of %s.caches[%d].mountPath", p, k)
			}
			paths[path.Clean(c.MountPath)] = j
		}
		if c.Size.Sign() <= 0 {
			add(cp+".size", "required, a positive quantity (e.g. 5Gi)")
		}
	}
	if len(t.Caches) > 0 && t.Mode == ModeSwarm {
		add(p+".caches", "not supported for mode swarm (swarm pods are not one per build)")
	}
}

// MaxCacheName is the longest cache name: claims are named
// jenkins-cache-TEMPLATE-CACHE-N within a DNS-1123 subdomain.
const MaxCacheName = 40

// Warnings returns what is allowed but probably not meant, each prefixed
// with its field path (e.g. "templates[0].mode: websocket agents ignore
// jenkinsTunnel").
func (c *Config) Warnings() []string {
	var out []string
	for i, t := range c.Templates {
		if c.JenkinsTunnel == "" || !c.UsesWebSocket(t) {
			continue
		}
		field := "webSocket"
		switch {
		case t.Mode == ModeWebSocket:
			field = "mode"
		case !t.WebSocket:
			out = append(out, fmt.Sprintf("webSocket: websocket agents of templates[%d] (%s) ignore jenkinsTunnel", i, t.Name))
			continue
		}
		out = append(out, fmt.Sprintf("templates[%d].%s: websocket agents ignore jenkinsTunnel", i, field))
	}
	return out
}

func nonNegative(add adder, path string, v int) {
	if v < 0 {
		add(path, "must not be negative")
	}
}

// checkURL accepts an absolute http or https URL; empty only if optional.
func checkURL(s string, required bool) error {
	if s == "" {
		if required {
			return errors.New("required")
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", s)
	}
	if u.User != nil {
		return fmt.Errorf("%q: user info in the URL; put the user and API token in credentials", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", s)
	}
	return nil
}
