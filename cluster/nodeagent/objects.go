package nodeagent

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func (a *Agent) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return a.cfg.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (a *Agent) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	return a.cfg.Client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

// allocatable is the node's allocatable resources as last reported: the limits a
// resourceFieldRef sees for a container that sets none.
func (a *Agent) allocatable() corev1.ResourceList {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nodeAllocatable
}

// serviceEnvFor returns the service variables a new container of pod gets: the services of its
// namespace (when enableServiceLinks is not false) and the default namespace's "kubernetes"
// service, as they exist now.
func (a *Agent) serviceEnvFor(pod *corev1.Pod) []envVar {
	lister := a.services.Core().V1().Services().Lister()
	var svcs []*corev1.Service
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		svcs, _ = lister.Services(pod.Namespace).List(labels.Everything())
	}
	if pod.Namespace != metav1.NamespaceDefault {
		if k, err := lister.Services(metav1.NamespaceDefault).Get("kubernetes"); err == nil {
			svcs = append(svcs, k)
		}
	}
	return serviceEnv(svcs)
}
