package nodeagent

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/drover-ci/drover/cluster/downward"
)

// serviceEnv returns the docker-link style variables of the services a pod sees: for service
// "jenkins" with cluster IP 10.0.0.5 and ports http 8080 and slave 50000:
// JENKINS_SERVICE_HOST, JENKINS_SERVICE_PORT (first port), JENKINS_SERVICE_PORT_HTTP,
// JENKINS_SERVICE_PORT_SLAVE, JENKINS_PORT=tcp://10.0.0.5:8080 and for every port
// JENKINS_PORT_8080_TCP{,_PROTO,_PORT,_ADDR}. Headless services and services without a
// cluster IP give none.
func serviceEnv(services []*corev1.Service) []envVar {
	sorted := append([]*corev1.Service(nil), services...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var out []envVar
	for _, svc := range sorted {
		ip := svc.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 {
			continue
		}
		prefix := strings.ToUpper(strings.ReplaceAll(svc.Name, "-", "_"))
		first := svc.Spec.Ports[0]
		out = append(out,
			envVar{prefix + "_SERVICE_HOST", ip},
			envVar{prefix + "_SERVICE_PORT", strconv.Itoa(int(first.Port))})
		for _, p := range svc.Spec.Ports {
			if p.Name != "" {
				out = append(out, envVar{prefix + "_SERVICE_PORT_" + strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), strconv.Itoa(int(p.Port))})
			}
		}
		out = append(out, envVar{prefix + "_PORT", portURL(first, ip)})
		for _, p := range svc.Spec.Ports {
			proto := strings.ToLower(string(p.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			base := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
			out = append(out,
				envVar{base, portURL(p, ip)},
				envVar{base + "_PROTO", proto},
				envVar{base + "_PORT", strconv.Itoa(int(p.Port))},
				envVar{base + "_ADDR", ip})
		}
	}
	return out
}

func portURL(p corev1.ServicePort, ip string) string {
	proto := strings.ToLower(string(p.Protocol))
	if proto == "" {
		proto = "tcp"
	}
	return fmt.Sprintf("%s://%s:%d", proto, ip, p.Port)
}

// objects is what env resolution reads from the API.
type objects interface {
	secret(ctx context.Context, ns, name string) (*corev1.Secret, error)
	configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error)
	allocatable() corev1.ResourceList
}

// containerEnv resolves a container's environment: service variables first, then envFrom, then
// env in order, each value expanded with what came before (DESIGN §5).
func containerEnv(ctx context.Context, api objects, pod *corev1.Pod, c *corev1.Container, svcEnv []envVar) ([]envVar, error) {
	env := append([]envVar(nil), svcEnv...)
	for _, from := range c.EnvFrom {
		vars, err := envFromSource(ctx, api, pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		env = append(env, vars...)
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env = append(env, envVar{e.Name, expand(e.Value, mappingOf(env))})
			continue
		}
		v, ok, err := valueFrom(ctx, api, pod, c, e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			env = append(env, envVar{e.Name, v})
		}
	}
	return dedupe(env), nil
}

// dedupe keeps the last definition of each name, where it stands (earlier ones are dropped).
func dedupe(env []envVar) []envVar {
	last := map[string]int{}
	for i, e := range env {
		last[e.name] = i
	}
	var out []envVar
	for i, e := range env {
		if last[e.name] == i {
			out = append(out, e)
		}
	}
	return out
}

func envFromSource(ctx context.Context, api objects, ns string, from corev1.EnvFromSource) ([]envVar, error) {
	var data map[string]string
	switch {
	case from.ConfigMapRef != nil:
		cm, err := api.configMap(ctx, ns, from.ConfigMapRef.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(from.ConfigMapRef.Optional) {
				return nil, nil
			}
			return nil, fmt.Errorf("envFrom configmap %q: %w", from.ConfigMapRef.Name, err)
		}
		data = cm.Data
	case from.SecretRef != nil:
		s, err := api.secret(ctx, ns, from.SecretRef.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(from.SecretRef.Optional) {
				return nil, nil
			}
			return nil, fmt.Errorf("envFrom secret %q: %w", from.SecretRef.Name, err)
		}
		data = map[string]string{}
		for k, v := range s.Data {
			data[k] = string(v)
		}
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]envVar, 0, len(keys))
	for _, k := range keys {
		out = append(out, envVar{from.Prefix + k, data[k]})
	}
	return out, nil
}

func valueFrom(ctx context.Context, api objects, pod *corev1.Pod, c *corev1.Container, src *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case src.FieldRef != nil:
		v, ok := downward.PodField(pod, src.FieldRef.FieldPath, downward.Env)
		if !ok {
			return "", false, fmt.Errorf("unsupported fieldRef %q", src.FieldRef.FieldPath)
		}
		return v, true, nil
	case src.SecretKeyRef != nil:
		return secretKey(ctx, api, pod.Namespace, src.SecretKeyRef)
	case src.ConfigMapKeyRef != nil:
		return configMapKey(ctx, api, pod.Namespace, src.ConfigMapKeyRef)
	case src.ResourceFieldRef != nil:
		v, err := downward.ResourceValue(src.ResourceFieldRef, pod, c, api.allocatable())
		return v, err == nil, err
	}
	return "", false, nil
}

// secretKey reads a secretKeyRef; an optional one that is missing gives no variable.
func secretKey(ctx context.Context, api objects, ns string, ref *corev1.SecretKeySelector) (string, bool, error) {
	s, err := api.secret(ctx, ns, ref.Name)
	if err != nil {
		if apierrors.IsNotFound(err) && optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("secret %q: %w", ref.Name, err)
	}
	v, ok := s.Data[ref.Key]
	if !ok {
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, ns, ref.Name)
	}
	return string(v), true, nil
}

// configMapKey reads a configMapKeyRef; an optional one that is missing gives no variable.
func configMapKey(ctx context.Context, api objects, ns string, ref *corev1.ConfigMapKeySelector) (string, bool, error) {
	cm, err := api.configMap(ctx, ns, ref.Name)
	if err != nil {
		if apierrors.IsNotFound(err) && optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("configmap %q: %w", ref.Name, err)
	}
	v, ok := cm.Data[ref.Key]
	if !ok {
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, ns, ref.Name)
	}
	return v, true, nil
}

func optional(b *bool) bool { return b != nil && *b }
