package registry

import (
	"math"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podTemplateValidate is Kubernetes' ValidatePodTemplateSpec over v1 types. Note that, as in
// Kubernetes, template labels are reported under "<path>.labels".
func podTemplateValidate(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabels(t.Labels, fldPath.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, fldPath.Child("annotations"))...)
	errs = append(errs, podSpecValidate(&t.Spec, fldPath.Child("spec"))...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

// podSpecValidate is Kubernetes' ValidatePodSpec over v1 types, for the fields drover uses.
func podSpecValidate(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	vols, errs := podValidateVolumes(spec.Volumes, fldPath.Child("volumes"))
	errs = append(errs, podValidateAllContainers(spec, vols, fldPath)...)
	errs = append(errs, podEnum(string(spec.RestartPolicy), fldPath.Child("restartPolicy"),
		string(corev1.RestartPolicyAlways), string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever))...)
	errs = append(errs, podEnum(string(spec.DNSPolicy), fldPath.Child("dnsPolicy"),
		string(corev1.DNSClusterFirstWithHostNet), string(corev1.DNSClusterFirst), string(corev1.DNSDefault), string(corev1.DNSNone))...)
	errs = append(errs, podValidateDNSConfig(spec, fldPath.Child("dnsConfig"))...)
	errs = append(errs, metav1validation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	errs = append(errs, podNames(spec.NodeName, apivalidation.NameIsDNSSubdomain, fldPath.Child("nodeName"))...)
	errs = append(errs, podNames(spec.ServiceAccountName, apivalidation.NameIsDNSSubdomain, fldPath.Child("serviceAccountName"))...)
	errs = append(errs, podNames(spec.SchedulerName, apivalidation.NameIsDNSSubdomain, fldPath.Child("schedulerName"))...)
	errs = append(errs, podNames(spec.Hostname, apivalidation.NameIsDNSLabel, fldPath.Child("hostname"))...)
	errs = append(errs, podNames(spec.Subdomain, apivalidation.NameIsDNSLabel, fldPath.Child("subdomain"))...)
	errs = append(errs, podNames(spec.PriorityClassName, apivalidation.NameIsDNSSubdomain, fldPath.Child("priorityClassName"))...)
	if spec.PreemptionPolicy != nil {
		errs = append(errs, ValidatePreemptionPolicy(spec.PreemptionPolicy, fldPath.Child("preemptionPolicy"))...)
	}
	if s := spec.ActiveDeadlineSeconds; s != nil && (*s < 1 || *s > math.MaxUint32) {
		errs = append(errs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), *s, validation.InclusiveRangeError(1, math.MaxUint32)))
	}
	if g := spec.TerminationGracePeriodSeconds; g != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*g, fldPath.Child("terminationGracePeriodSeconds"))...)
	}
	errs = append(errs, podValidateTolerations(spec.Tolerations, fldPath.Child("tolerations"))...)
	errs = append(errs, podValidateSysctls(spec, fldPath.Child("securityContext", "sysctls"))...)
	errs = append(errs, podRefuseUnhonoured(spec, fldPath)...)
	for i, s := range spec.ImagePullSecrets {
		if s.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	return errs
}

// podEnum checks a required string field against its allowed values.
func podEnum(value string, fldPath *field.Path, allowed ...string) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(fldPath, value, allowed)}
}

// podNames checks an optional name with a name validation function.
func podNames(value string, fn apivalidation.ValidateNameFunc, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range fn(value, false) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

// podDNSLabel checks a required DNS-1123 label (container and volume names).
func podDNSLabel(value string, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(value) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

// podValidateDNSConfig is Kubernetes' validatePodDNSConfig.
func podValidateDNSConfig(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	cfg := spec.DNSConfig
	if spec.DNSPolicy == corev1.DNSNone {
		if cfg == nil {
			return field.ErrorList{field.Required(fldPath, "must provide `dnsConfig` when `dnsPolicy` is None")}
		}
		if len(cfg.Nameservers) == 0 {
			return field.ErrorList{field.Required(fldPath.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None")}
		}
	}
	if cfg == nil {
		return nil
	}
	var errs field.ErrorList
	if len(cfg.Nameservers) > 3 {
		errs = append(errs, field.Invalid(fldPath.Child("nameservers"), cfg.Nameservers, "must not have more than 3 nameservers"))
	}
	for i, ns := range cfg.Nameservers {
		if net.ParseIP(ns) == nil {
			errs = append(errs, field.Invalid(fldPath.Child("nameservers").Index(i), ns, "must be a valid IP address"))
		}
	}
	if len(cfg.Searches) > 32 {
		errs = append(errs, field.Invalid(fldPath.Child("searches"), cfg.Searches, "must not have more than 32 search paths"))
	}
	for i, s := range cfg.Searches {
		for _, msg := range validation.IsDNS1123Subdomain(strings.TrimSuffix(s, ".")) {
			errs = append(errs, field.Invalid(fldPath.Child("searches").Index(i), s, msg))
		}
	}
	return errs
}

// podValidateTolerations is Kubernetes' ValidateTolerations.
func podValidateTolerations(tols []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range tols {
		p := fldPath.Index(i)
		if t.Key != "" {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, p.Child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Operator,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(p.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			if msgs := validation.IsValidLabelValue(t.Value); len(msgs) > 0 {
				errs = append(errs, field.Invalid(p.Child("operator"), t.Value, strings.Join(msgs, ";")))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(p.Child("operator"), t, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("operator"), t.Operator,
				[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		if t.Effect != "" {
			errs = append(errs, podEnum(string(t.Effect), p.Child("effect"), string(corev1.TaintEffectNoSchedule),
				string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute))...)
		}
	}
	return errs
}
