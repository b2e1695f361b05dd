package registry

import (
	"fmt"
	"slices"
	"strings"
	"time"

	storagev1 "k8s.io/api/storage/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// csiDriverNameMaxLength is the longest CSI driver name Kubernetes accepts (in a pod's csi
// volume, a PersistentVolume's csi source, a CSINode's drivers, a VolumeAttachment's attacher).
const csiDriverNameMaxLength = 63

var (
	csiFSGroupPolicies = []string{string(storagev1.FileFSGroupPolicy), string(storagev1.NoneFSGroupPolicy),
		string(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy)}
	csiLifecycleModes = []string{string(storagev1.VolumeLifecyclePersistent), string(storagev1.VolumeLifecycleEphemeral)}
)

// csiDriverResource describes the storage.k8s.io/v1 csidrivers resource. drover runs no CSI
// driver: a CSIDriver object is stored and served, and no node registers it.
func csiDriverResource() *Resource {
	return &Resource{
		Group: StorageGroup, Version: "v1", Resource: "csidrivers", Kind: "CSIDriver", SingularName: "csidriver",
		New:     func() runtime.Object { return &storagev1.CSIDriver{} },
		NewList: func() runtime.Object { return &storagev1.CSIDriverList{} },
		Default: func(obj runtime.Object) { csiDriverDefault(obj.(*storagev1.CSIDriver)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return csiDriverValidateSpec(&obj.(*storagev1.CSIDriver).Spec)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return csiDriverValidateUpdate(obj.(*storagev1.CSIDriver), old.(*storagev1.CSIDriver))
		},
		Table: csiDriverTable(),
	}
}

// csiDriverDefault is Kubernetes 1.32's SetDefaults_CSIDriver (SELinuxMountReadWriteOncePod
// is on by default there, so seLinuxMount defaults too).
func csiDriverDefault(d *storagev1.CSIDriver) {
	s := &d.Spec
	setBool := func(p **bool, v bool) {
		if *p == nil {
			*p = &v
		}
	}
	setBool(&s.AttachRequired, true)
	setBool(&s.PodInfoOnMount, false)
	setBool(&s.StorageCapacity, false)
	if s.FSGroupPolicy == nil {
		p := storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy
		s.FSGroupPolicy = &p
	}
	if len(s.VolumeLifecycleModes) == 0 {
		s.VolumeLifecycleModes = []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent}
	}
	setBool(&s.RequiresRepublish, false)
	setBool(&s.SELinuxMount, false)
}

// csiDriverValidateSpec is Kubernetes' validateCSIDriverSpec. The paths are Kubernetes'
// (attachRequired is reported as spec.attachedRequired there).
func csiDriverValidateSpec(s *storagev1.CSIDriverSpec) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	for _, req := range []struct {
		v    *bool
		name string
	}{{s.AttachRequired, "attachedRequired"}, {s.PodInfoOnMount, "podInfoOnMount"}, {s.StorageCapacity, "storageCapacity"}} {
		if req.v == nil {
			errs = append(errs, field.Required(p.Child(req.name), ""))
		}
	}
	if s.FSGroupPolicy != nil && !slices.Contains(csiFSGroupPolicies, string(*s.FSGroupPolicy)) {
		errs = append(errs, field.NotSupported(p.Child("fsGroupPolicy"), *s.FSGroupPolicy, csiFSGroupPolicies))
	}
	errs = append(errs, csiDriverValidateTokenRequests(s.TokenRequests, p.Child("tokenRequests"))...)
	for _, m := range s.VolumeLifecycleModes {
		if !slices.Contains(csiLifecycleModes, string(m)) {
			errs = append(errs, field.NotSupported(p.Child("volumeLifecycleModes"), m, csiLifecycleModes))
		}
	}
	if s.SELinuxMount == nil {
		errs = append(errs, field.Required(p.Child("seLinuxMount"), ""))
	}
	return errs
}

// csiDriverValidateTokenRequests: audiences unique (one may be empty), expirations between
// 10 minutes and 2^32 seconds.
func csiDriverValidateTokenRequests(reqs []storagev1.TokenRequest, p *field.Path) field.ErrorList {
	minimum := int64((10 * time.Minute).Seconds())
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, r := range reqs {
		rp := p.Index(i)
		if seen[r.Audience] {
			errs = append(errs, field.Duplicate(rp.Child("audience"), r.Audience))
			continue
		}
		seen[r.Audience] = true
		if r.ExpirationSeconds == nil {
			continue
		}
		if *r.ExpirationSeconds < minimum {
			errs = append(errs, field.Invalid(rp.Child("expirationSeconds"), *r.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
		}
		if *r.ExpirationSeconds > 1<<32 {
			errs = append(errs, field.Invalid(rp.Child("expirationSeconds"), *r.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
		}
	}
	return errs
}

// csiDriverValidateUpdate is Kubernetes 1.32's ValidateCSIDriverUpdate: attachRequired and
// volumeLifecycleModes are immutable; podInfoOnMount, storageCapacity, fsGroupPolicy,
// tokenRequests, requiresRepublish and seLinuxMount may change.
func csiDriverValidateUpdate(d, old *storagev1.CSIDriver) field.ErrorList {
	errs := csiDriverValidateSpec(&d.Spec)
	p := field.NewPath("spec")
	errs = append(errs, apivalidation.ValidateImmutableField(d.Spec.AttachRequired, old.Spec.AttachRequired, p.Child("attachedRequired"))...)
	return append(errs, apivalidation.ValidateImmutableField(d.Spec.VolumeLifecycleModes, old.Spec.VolumeLifecycleModes, p.Child("volumeLifecycleModes"))...)
}

// storageValidateCSIDriverName is Kubernetes' ValidateCSIDriverName: required, at most 63
// characters, a DNS-1123 subdomain once lower-cased.
func storageValidateCSIDriverName(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p, ""))
	}
	if len(name) > csiDriverNameMaxLength {
		errs = append(errs, field.TooLong(p, "", csiDriverNameMaxLength))
	}
	for _, msg := range validation.IsDNS1123Subdomain(strings.ToLower(name)) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// csiDriverTable prints CSI drivers as kubectl v1.32 does: NAME ATTACHREQUIRED PODINFOONMOUNT
// STORAGECAPACITY TOKENREQUESTS REQUIRESREPUBLISH MODES AGE.
func csiDriverTable() *Table {
	doc := storagev1.CSIDriverSpec{}.SwaggerDoc()
	return &Table{
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			column("AttachRequired", "boolean", doc["attachRequired"], 0),
			column("PodInfoOnMount", "boolean", doc["podInfoOnMount"], 0),
			column("StorageCapacity", "boolean", doc["storageCapacity"], 0),
			column("TokenRequests", "string", doc["tokenRequests"], 0),
			column("RequiresRepublish", "boolean", doc["requiresRepublish"], 0),
			column("Modes", "string", doc["volumeLifecycleModes"], 0),
			ageColumn,
		},
		Row: func(obj runtime.Object) ([]interface{}, error) {
			d, ok := obj.(*storagev1.CSIDriver)
			if !ok {
				return nil, fmt.Errorf("csidriver table: unexpected object %T", obj)
			}
			or := func(p *bool, def bool) bool {
				if p == nil {
					return def
				}
				return *p
			}
			tokens := "<unset>"
			if d.Spec.TokenRequests != nil {
				var auds []string
				for _, r := range d.Spec.TokenRequests {
					auds = append(auds, r.Audience)
				}
				tokens = strings.Join(auds, ",")
			}
			var modes []string
			for _, m := range d.Spec.VolumeLifecycleModes {
				modes = append(modes, string(m))
			}
			return []interface{}{d.Name, or(d.Spec.AttachRequired, true), or(d.Spec.PodInfoOnMount, false),
				or(d.Spec.StorageCapacity, false), tokens, or(d.Spec.RequiresRepublish, false),
				stringOrNone(strings.Join(modes, ",")), translateTimestampSince(d.CreationTimestamp)}, nil
		},
	}
}
