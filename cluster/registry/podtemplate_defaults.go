package registry

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Defaults of Kubernetes' pkg/apis/core/v1/defaults.go for pods and pod templates.
const (
	podDefaultGracePeriod   int64 = 30
	podDefaultSchedulerName       = corev1.DefaultSchedulerName
	podDefaultFileMode      int32 = corev1.SecretVolumeSourceDefaultMode // 0644
)

// podSpecDefault fills the v1 defaults of a pod spec (SetDefaults_PodSpec and everything the
// generated defaulter reaches under it: containers, ports, probes, env, volumes).
func podSpecDefault(spec *corev1.PodSpec) {
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		g := podDefaultGracePeriod
		spec.TerminationGracePeriodSeconds = &g
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = podDefaultSchedulerName
	}
	if spec.EnableServiceLinks == nil {
		yes := corev1.DefaultEnableServiceLinks
		spec.EnableServiceLinks = &yes
	}
	// The v1 conversion keeps the deprecated serviceAccount field in step with serviceAccountName.
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	spec.DeprecatedServiceAccount = spec.ServiceAccountName
	for i := range spec.Volumes {
		podVolumeDefault(&spec.Volumes[i])
	}
	for i := range spec.InitContainers {
		podContainerDefault(&spec.InitContainers[i], spec.HostNetwork)
	}
	for i := range spec.Containers {
		podContainerDefault(&spec.Containers[i], spec.HostNetwork)
	}
	for i := range spec.EphemeralContainers { // SetDefaults_EphemeralContainer
		podContainerDefault((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon), spec.HostNetwork)
	}
}

// podContainerDefault is SetDefaults_Container plus the defaults of its ports, probes, env and
// the requests-from-limits rule of SetDefaults_Pod.
func podContainerDefault(c *corev1.Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		if podImageTag(c.Image) == "latest" {
			c.ImagePullPolicy = corev1.PullAlways
		} else {
			c.ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		p := &c.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		podProbeDefault(p)
	}
	if c.Lifecycle != nil {
		for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
			if h != nil {
				podHTTPGetDefault(h.HTTPGet)
			}
		}
	}
	if len(c.Resources.Limits) > 0 {
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		for name, q := range c.Resources.Limits {
			if _, ok := c.Resources.Requests[name]; !ok {
				c.Resources.Requests[name] = q.DeepCopy()
			}
		}
	}
}

// podImageTag returns the tag of an image reference the way Kubernetes' ParseImageName does:
// "latest" when there is neither tag nor digest, "" for a digest without tag.
func podImageTag(image string) string {
	name, _, hasDigest := strings.Cut(image, "@")
	last := name[strings.LastIndex(name, "/")+1:]
	if i := strings.LastIndex(last, ":"); i >= 0 {
		return last[i+1:]
	}
	if hasDigest {
		return ""
	}
	return "latest"
}

// podProbeDefault is SetDefaults_Probe (and SetDefaults_HTTPGetAction for its handler).
func podProbeDefault(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	podHTTPGetDefault(p.HTTPGet)
	if p.GRPC != nil && p.GRPC.Service == nil {
		empty := ""
		p.GRPC.Service = &empty
	}
}

// podHTTPGetDefault is SetDefaults_HTTPGetAction.
func podHTTPGetDefault(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

// podVolumeDefault is SetDefaults_Volume and the defaults of the volume sources drover uses.
func podVolumeDefault(v *corev1.Volume) {
	if podVolumeSourceCount(&v.VolumeSource) == 0 {
		v.VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	}
	mode := func(m **int32) {
		if *m == nil {
			d := podDefaultFileMode
			*m = &d
		}
	}
	src := &v.VolumeSource
	switch {
	case src.Secret != nil:
		mode(&src.Secret.DefaultMode)
	case src.ConfigMap != nil:
		mode(&src.ConfigMap.DefaultMode)
	case src.DownwardAPI != nil:
		mode(&src.DownwardAPI.DefaultMode)
		for i := range src.DownwardAPI.Items {
			if f := src.DownwardAPI.Items[i].FieldRef; f != nil && f.APIVersion == "" {
				f.APIVersion = "v1"
			}
		}
	case src.Projected != nil:
		mode(&src.Projected.DefaultMode)
	case src.HostPath != nil:
		if src.HostPath.Type == nil {
			t := corev1.HostPathUnset
			src.HostPath.Type = &t
		}
	}
}
