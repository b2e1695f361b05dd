package probe

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ResolvePort turns a probe's port into a number: an int as is, a string as the name of one of
// c's ports (or, failing that, a number written as a string). The result must be in 1–65535.
func ResolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	port := -1
	switch p.Type {
	case intstr.Int:
		port = p.IntValue()
	case intstr.String:
		var err error
		if port, err = portByName(c, p.StrVal); err != nil {
			n, aerr := strconv.Atoi(p.StrVal)
			if aerr != nil {
				return -1, err
			}
			port = n
		}
	default:
		return -1, fmt.Errorf("port %+v has no type", p)
	}
	if port > 0 && port < 65536 {
		return port, nil
	}
	return port, fmt.Errorf("invalid port number: %d", port)
}

func portByName(c *corev1.Container, name string) (int, error) {
	if c != nil {
		for _, p := range c.Ports {
			if p.Name == name {
				return int(p.ContainerPort), nil
			}
		}
	}
	return 0, fmt.Errorf("port %s not found", name)
}

// HTTPGetURL builds the URL and headers of an httpGet probe against a container whose pod
// has podIP: the action's host (default podIP), scheme (default http), port (by number or
// name) and path (default "/"), and its httpHeaders in order.
func HTTPGetURL(h *corev1.HTTPGetAction, podIP string, c *corev1.Container) (string, http.Header, error) {
	port, err := ResolvePort(h.Port, c)
	if err != nil {
		return "", nil, err
	}
	host := h.Host
	if host == "" {
		host = podIP
	}
	scheme := strings.ToLower(string(h.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	u, err := url.Parse(h.Path)
	if err != nil {
		u = &url.URL{Path: h.Path}
	}
	if u.Path == "" && u.RawQuery == "" {
		u.Path = "/"
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	headers := http.Header{}
	for _, hd := range h.HTTPHeaders {
		headers.Add(hd.Name, hd.Value)
	}
	return u.String(), headers, nil
}
