package render

import (
	"path"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover-ci/drover/cloud/config"
)

// CacheVolume builds the hostPath PersistentVolume behind cache claim
// number n of template t, pre-bound to the claim (drover has no dynamic
// provisioner: cluster/controller/pvbinder binds a claim to the volume its
// claimRef names). Its directory is CacheDir/NAMESPACE/CLAIM, created on
// first use; the volume is retained when the claim goes.
func CacheVolume(c *config.Config, t config.Template, cache config.Cache, namespace string, n int) *corev1.PersistentVolume {
	name := CacheClaimName(t.Name, cache.Name, n)
	dirType := corev1.HostPathDirectoryOrCreate
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: cacheLabels(t, cache)},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: cache.Size},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "",
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: namespace, Name: name},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: path.Join(c.CacheDir(), namespace, name), Type: &dirType}},
		},
	}
}

// CacheClaim builds cache claim number n of template t, naming its volume.
func CacheClaim(t config.Template, cache config.Cache, namespace string, n int) *corev1.PersistentVolumeClaim {
	name := CacheClaimName(t.Name, cache.Name, n)
	class := ""
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: cacheLabels(t, cache)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: cache.Size}},
			StorageClassName: &class,
			VolumeName:       name,
		},
	}
}

func cacheLabels(t config.Template, cache config.Cache) map[string]string {
	return map[string]string{LabelTemplate: t.Name, LabelCache: cache.Name}
}
