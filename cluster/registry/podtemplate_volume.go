package registry

import (
	"path"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podFileModeMsg is Kubernetes' message for a file mode out of range.
const podFileModeMsg = "must be a number between 0 and 0777 (octal), both inclusive"

// podVolumeSources lists the json names of the volume sources set in src, in field order.
func podVolumeSources(src *corev1.VolumeSource) []string {
	v := reflect.ValueOf(src).Elem()
	var set []string
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			set = append(set, name)
		}
	}
	return set
}

// podVolumeSourceCount counts the volume sources set in src.
func podVolumeSourceCount(src *corev1.VolumeSource) int { return len(podVolumeSources(src)) }

// podValidateVolumes is Kubernetes' ValidateVolumes: unique DNS-label names and exactly one
// valid source each. It returns the set of volume names.
func podValidateVolumes(vols []corev1.Volume, fldPath *field.Path) (map[string]bool, field.ErrorList) {
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range vols {
		v := &vols[i]
		p := fldPath.Index(i)
		errs = append(errs, podDNSLabel(v.Name, p.Child("name"))...)
		if v.Name != "" && names[v.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), v.Name))
		}
		names[v.Name] = true
		errs = append(errs, podValidateVolumeSource(&v.VolumeSource, p)...)
	}
	return names, errs
}

// podValidateVolumeSource checks that exactly one source is set and validates the sources
// drover implements.
func podValidateVolumeSource(src *corev1.VolumeSource, p *field.Path) field.ErrorList {
	set := podVolumeSources(src)
	if len(set) == 0 {
		return field.ErrorList{field.Required(p, "must specify a volume type")}
	}
	var errs field.ErrorList
	for _, extra := range set[1:] {
		errs = append(errs, field.Forbidden(p.Child(extra), "may not specify more than 1 volume type"))
	}
	switch {
	case src.HostPath != nil:
		errs = append(errs, podValidateHostPath(src.HostPath, p.Child("hostPath"))...)
	case src.EmptyDir != nil:
		if l := src.EmptyDir.SizeLimit; l != nil && l.Cmp(resource.Quantity{}) < 0 {
			errs = append(errs, field.Forbidden(p.Child("emptyDir", "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
	case src.Secret != nil:
		fp := p.Child("secret")
		if src.Secret.SecretName == "" {
			errs = append(errs, field.Required(fp.Child("secretName"), ""))
		}
		errs = append(errs, podValidateMode(src.Secret.DefaultMode, fp.Child("defaultMode"))...)
		errs = append(errs, podValidateItems(src.Secret.Items, fp.Child("items"))...)
	case src.ConfigMap != nil:
		fp := p.Child("configMap")
		if src.ConfigMap.Name == "" {
			errs = append(errs, field.Required(fp.Child("name"), ""))
		}
		errs = append(errs, podValidateMode(src.ConfigMap.DefaultMode, fp.Child("defaultMode"))...)
		errs = append(errs, podValidateItems(src.ConfigMap.Items, fp.Child("items"))...)
	case src.PersistentVolumeClaim != nil:
		if src.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(p.Child("persistentVolumeClaim", "claimName"), ""))
		}
	case src.NFS != nil:
		errs = append(errs, podValidateNFS(src.NFS, p.Child("nfs"))...)
	case src.CSI != nil:
		errs = append(errs, podValidateCSI(src.CSI, p.Child("csi"))...)
	}
	return errs
}

// podHostPathTypes are the valid hostPath types.
var podHostPathTypes = []corev1.HostPathType{
	corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate,
	corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev,
}

func podValidateHostPath(hp *corev1.HostPathVolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if hp.Path == "" {
		errs = append(errs, field.Required(p.Child("path"), ""))
	}
	if hp.Type != nil {
		ok := false
		for _, t := range podHostPathTypes {
			ok = ok || *hp.Type == t
		}
		if !ok {
			errs = append(errs, field.NotSupported(p.Child("type"), *hp.Type, podHostPathTypes))
		}
	}
	return errs
}

func podValidateNFS(nfs *corev1.NFSVolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if nfs.Server == "" {
		errs = append(errs, field.Required(p.Child("server"), ""))
	}
	if nfs.Path == "" {
		errs = append(errs, field.Required(p.Child("path"), ""))
	} else if !path.IsAbs(nfs.Path) {
		errs = append(errs, field.Invalid(p.Child("path"), nfs.Path, "must be an absolute path"))
	}
	return errs
}

// podValidateCSI is Kubernetes' validateCSIVolumeSource: a CSI driver name, and a secret's
// name when nodePublishSecretRef is set. The pod is accepted; no drover node has a CSI driver,
// so the node agent reports the mount failure as the kubelet does for an unregistered driver.
func podValidateCSI(csi *corev1.CSIVolumeSource, p *field.Path) field.ErrorList {
	errs := storageValidateCSIDriverName(csi.Driver, p.Child("driver"))
	if ref := csi.NodePublishSecretRef; ref != nil {
		if ref.Name == "" {
			errs = append(errs, field.Required(p.Child("nodePublishSecretRef", "name"), ""))
		} else {
			// Kubernetes reports an invalid secret name at csi.name.
			errs = append(errs, podNames(ref.Name, apivalidation.NameIsDNSSubdomain, p.Child("name"))...)
		}
	}
	return errs
}

// podValidateMode checks a file mode: 0 to 0777.
func podValidateMode(mode *int32, p *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(p, *mode, podFileModeMsg)}
	}
	return nil
}

// podValidateItems checks key-to-path projections of secret and configMap volumes.
func podValidateItems(items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		p := fldPath.Index(i)
		if it.Key == "" {
			errs = append(errs, field.Required(p.Child("key"), ""))
		}
		if it.Path == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		} else {
			errs = append(errs, podLocalPath(it.Path, p.Child("path"))...)
		}
		errs = append(errs, podValidateMode(it.Mode, p.Child("mode"))...)
	}
	return errs
}
