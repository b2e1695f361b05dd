package apiserver_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// TestStorageDiscovery: storage.k8s.io/v1 is in /apis and lists its five resources, as the
// CSIStorageCapacity conformance spec checks first.
func TestStorageDiscovery(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	groups, err := cs.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range groups.Groups {
		found = found || g.Name == storagev1.GroupName && g.PreferredVersion.Version == "v1"
	}
	if !found {
		t.Errorf("storage.k8s.io/v1 not in /apis: %+v", groups.Groups)
	}
	list, err := cs.Discovery().ServerResourcesForGroupVersion("storage.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range list.APIResources {
		got[r.Name] = r.Kind + " " + strings.Join(r.ShortNames, ",") + " " + map[bool]string{true: "namespaced", false: "cluster"}[r.Namespaced]
	}
	want := map[string]string{
		"storageclasses":           "StorageClass sc cluster",
		"csidrivers":               "CSIDriver  cluster",
		"csinodes":                 "CSINode  cluster",
		"volumeattachments":        "VolumeAttachment  cluster",
		"volumeattachments/status": "VolumeAttachment  cluster",
		"csistoragecapacities":     "CSIStorageCapacity  namespaced",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("discovery of %s = %q, want %q", name, got[name], w)
		}
	}
}

// TestStorageClassLifecycle walks the StorageClass conformance spec (create with generateName,
// get, strategic merge patch, delete, update, list and deletecollection by label) through
// client-go, with the defaults, the immutable fields and the table kubectl prints.
func TestStorageClassLifecycle(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	scs := cs.StorageV1().StorageClasses()

	created, err := scs.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"},
		Provisioner: "e2e-fake-provisioner"}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Name, "e2e-") || created.ReclaimPolicy == nil || *created.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete ||
		created.VolumeBindingMode == nil || *created.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("created %s: reclaim %v binding %v", created.Name, created.ReclaimPolicy, created.VolumeBindingMode)
	}
	if _, err := scs.Get(ctx, created.Name, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	patched, err := scs.Patch(ctx, created.Name, types.StrategicMergePatchType,
		[]byte(`{"metadata":{"labels":{"`+created.Name+`":"patched"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Labels[created.Name] != "patched" {
		t.Fatalf("patch: %v %v", err, patched)
	}
	if err := scs.Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if l, err := scs.List(ctx, metav1.ListOptions{LabelSelector: created.Name + "=patched"}); err != nil || len(l.Items) != 0 {
		t.Errorf("after delete: %v %d items", err, len(l.Items))
	}

	// Invalid classes are 422s with Kubernetes' messages.
	_, err = scs.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimRecycle)}, metav1.CreateOptions{})
	st := wantStatus(t, "invalid class", err, http.StatusUnprocessableEntity)
	if !hasCause(st.ErrStatus, "provisioner") || !hasCause(st.ErrStatus, "reclaimPolicy") {
		t.Errorf("invalid class causes: %+v", st.ErrStatus.Details)
	}

	repl, err := scs.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-v2-",
		Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: "e2e-fake-provisioner", Parameters: map[string]string{"type": "fast"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var updated *storagev1.StorageClass
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sc, err := scs.Get(ctx, repl.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sc.Labels = map[string]string{repl.Name: "updated"}
		updated, err = scs.Update(ctx, sc, metav1.UpdateOptions{})
		return err
	})
	if err != nil || updated.Labels[repl.Name] != "updated" {
		t.Fatalf("update: %v %v", err, updated)
	}
	changed := updated.DeepCopy()
	changed.Provisioner = "other"
	changed.Parameters = map[string]string{"type": "slow"}
	_, err = scs.Update(ctx, changed, metav1.UpdateOptions{})
	st = wantStatus(t, "provisioner and parameters changed", err, http.StatusUnprocessableEntity)
	if !strings.Contains(st.Error(), "updates to provisioner are forbidden") || !strings.Contains(st.Error(), "updates to parameters are forbidden") {
		t.Errorf("immutable fields: %v", st)
	}

	hc, err := rest.HTTPClientFor(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	resp := doWith(t, hc, http.MethodGet, srv.URL+"/apis/storage.k8s.io/v1/storageclasses/"+repl.Name, "", nil,
		http.Header{"Accept": {"application/json;as=Table;v=v1;g=meta.k8s.io"}})
	var tbl metav1.Table
	if err := json.Unmarshal(resp.body, &tbl); err != nil || resp.code != http.StatusOK || len(tbl.Rows) != 1 {
		t.Fatalf("table: %d %v %s", resp.code, err, resp.body)
	}
	var cols []string
	for _, c := range tbl.ColumnDefinitions {
		cols = append(cols, c.Name)
	}
	if strings.Join(cols, " ") != "Name Provisioner ReclaimPolicy VolumeBindingMode AllowVolumeExpansion Age" ||
		tbl.Rows[0].Cells[0] != repl.Name+" (default)" || tbl.Rows[0].Cells[1] != "e2e-fake-provisioner" {
		t.Errorf("table columns %v row %v", cols, tbl.Rows[0].Cells)
	}

	sel := repl.Name + "=updated"
	if l, err := scs.List(ctx, metav1.ListOptions{LabelSelector: sel}); err != nil || len(l.Items) != 1 {
		t.Fatalf("list %s: %v %v", sel, err, l)
	}
	if err := scs.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel}); err != nil {
		t.Fatal(err)
	}
	if l, err := scs.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("after deletecollection: %v %v", err, l)
	}
}

// TestVolumeAttachmentLifecycle walks both VolumeAttachment conformance specs: the status a
// client sends on create is dropped, the status subresource is read through the dynamic
// client, merge-patched and updated, the spec is immutable, and deletecollection by label
// removes the labelled attachments only.
func TestVolumeAttachmentLifecycle(t *testing.T) {
	t.Parallel()
	srv, cs := startClient(t)
	ctx := testCtx(t)
	vas := cs.StorageV1().VolumeAttachments()
	newVA := func(name string) *storagev1.VolumeAttachment {
		return &storagev1.VolumeAttachment{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name)},
			Spec: storagev1.VolumeAttachmentSpec{Attacher: "e2e-test.storage.k8s.io", NodeName: "node-1",
				Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv-" + name)}},
			Status: storagev1.VolumeAttachmentStatus{Attached: true},
		}
	}

	created, err := vas.Create(ctx, newVA("va-1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Status.Attached || created.UID == "va-1" {
		t.Errorf("create kept the client's status %+v or uid %q", created.Status, created.UID)
	}
	patched, err := vas.Patch(ctx, "va-1", types.MergePatchType, []byte(`{"metadata":{"labels":{"va-1":"patched"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Labels["va-1"] != "patched" {
		t.Fatalf("patch: %v %v", err, patched)
	}
	if l, err := vas.List(ctx, metav1.ListOptions{LabelSelector: "va-1=patched"}); err != nil || len(l.Items) != 1 {
		t.Fatalf("list by label: %v %v", err, l)
	}

	dyn, err := dynamic.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	u, err := dyn.Resource(schema.GroupVersionResource{Group: "storage.k8s.io", Version: "v1", Resource: "volumeattachments"}).
		Get(ctx, "va-1", metav1.GetOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	var read storagev1.VolumeAttachment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), &read); err != nil || read.Status.Attached {
		t.Errorf("status read: %v %+v", err, read.Status)
	}
	// A status patch changes the status, neither the spec nor the labels.
	sp, err := vas.Patch(ctx, "va-1", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"va-1":"status"}},"spec":{"nodeName":"node-2"},"status":{"attached":true}}`), metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatal(err)
	}
	if !sp.Status.Attached || sp.Spec.NodeName != "node-1" || sp.Labels["va-1"] != "patched" {
		t.Errorf("after the status patch: attached %v node %q labels %v", sp.Status.Attached, sp.Spec.NodeName, sp.Labels)
	}
	var us *storagev1.VolumeAttachment
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := vas.Get(ctx, "va-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.Attached = false
		cur.Status.AttachError = &storagev1.VolumeError{Message: "no attacher"}
		us, err = vas.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil || us.Status.Attached || us.Status.AttachError == nil {
		t.Fatalf("update status: %v %+v", err, us)
	}
	// The main resource keeps the status and refuses spec changes.
	cur, err := vas.Get(ctx, "va-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Status = storagev1.VolumeAttachmentStatus{Attached: true}
	if upd, err := vas.Update(ctx, cur, metav1.UpdateOptions{}); err != nil || upd.Status.Attached || upd.Status.AttachError == nil {
		t.Errorf("update of the main resource changed the status: %v %+v", err, upd)
	}
	cur, _ = vas.Get(ctx, "va-1", metav1.GetOptions{})
	cur.Spec.NodeName = "node-2"
	_, err = vas.Update(ctx, cur, metav1.UpdateOptions{})
	if st := wantStatus(t, "spec change", err, http.StatusUnprocessableEntity); !strings.Contains(st.Error(), "spec: Invalid value") ||
		!strings.Contains(st.Error(), "field is immutable") {
		t.Errorf("spec change: %v", st)
	}
	_, err = vas.Create(ctx, &storagev1.VolumeAttachment{ObjectMeta: metav1.ObjectMeta{Name: "bad"}}, metav1.CreateOptions{})
	if st := wantStatus(t, "empty attachment", err, http.StatusUnprocessableEntity); !hasCause(st.ErrStatus, "spec.attacher") ||
		!hasCause(st.ErrStatus, "spec.source") || !hasCause(st.ErrStatus, "spec.nodeName") {
		t.Errorf("empty attachment causes: %+v", st.ErrStatus.Details)
	}
	if err := vas.Delete(ctx, "va-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := vas.Get(ctx, "va-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}

	for _, name := range []string{"va-2", "va-3", "va-4"} {
		if _, err := vas.Create(ctx, newVA(name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"va-2", "va-3"} {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := vas.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Labels = map[string]string{"va-e2e": "updated"}
			_, err = vas.Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := vas.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "va-e2e=updated"}); err != nil {
		t.Fatal(err)
	}
	l, err := vas.List(ctx, metav1.ListOptions{})
	if err != nil || len(l.Items) != 1 || l.Items[0].Name != "va-4" {
		t.Errorf("after deletecollection: %v %v", err, l)
	}
}

// TestCSIDriverAndCSINodeLifecycle: the CSIDriver conformance spec (defaults, 409 on a second
// create, strategic merge patch, update, list and deletecollection by label) with 1.32's
// immutable attachRequired, and a CSINode's create, patch and update.
func TestCSIDriverAndCSINodeLifecycle(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	drivers := cs.StorageV1().CSIDrivers()
	labels := map[string]string{"e2e-test": "csi"}
	d1 := &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "inline-driver-1", Labels: labels},
		Spec: storagev1.CSIDriverSpec{VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral}}}
	created, err := drivers.Create(ctx, d1, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := created.Spec
	if !*s.AttachRequired || *s.PodInfoOnMount || *s.StorageCapacity || *s.RequiresRepublish || *s.SELinuxMount ||
		*s.FSGroupPolicy != storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy || !slices.Equal(s.VolumeLifecycleModes, d1.Spec.VolumeLifecycleModes) {
		t.Errorf("defaults: %+v", s)
	}
	if _, err := drivers.Create(ctx, d1, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v", err)
	}
	d2 := &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "inline-driver-2", Labels: labels}}
	if _, err := drivers.Create(ctx, d2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := drivers.Patch(ctx, "inline-driver-2", types.StrategicMergePatchType, []byte(`{"metadata":{"labels":{"inline-driver-2":"patched"}}}`), metav1.PatchOptions{})
	if err != nil || p.Labels["inline-driver-2"] != "patched" {
		t.Fatalf("patch: %v %v", err, p)
	}
	p.Labels["inline-driver-2"] = "updated"
	p.Spec.PodInfoOnMount = ptr.To(true)
	u, err := drivers.Update(ctx, p, metav1.UpdateOptions{})
	if err != nil || u.Labels["inline-driver-2"] != "updated" || !*u.Spec.PodInfoOnMount || u.Generation != 2 {
		t.Fatalf("update: %v %+v", err, u)
	}
	u.Spec.AttachRequired = ptr.To(false)
	_, err = drivers.Update(ctx, u, metav1.UpdateOptions{})
	if st := wantStatus(t, "attachRequired change", err, http.StatusUnprocessableEntity); !strings.Contains(st.Error(), "spec.attachedRequired: Invalid value: false: field is immutable") {
		t.Errorf("attachRequired change: %v", st)
	}
	if l, err := drivers.List(ctx, metav1.ListOptions{LabelSelector: "e2e-test=csi"}); err != nil || len(l.Items) != 2 {
		t.Fatalf("list: %v %v", err, l)
	}
	if err := drivers.Delete(ctx, "inline-driver-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := drivers.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "inline-driver-2=updated"}); err != nil {
		t.Fatal(err)
	}
	if _, err := drivers.Get(ctx, "inline-driver-2", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after deletecollection: %v", err)
	}

	nodes := cs.StorageV1().CSINodes()
	if _, err := nodes.Create(ctx, &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "e2e-csinode-abcde"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := nodes.Patch(ctx, "e2e-csinode-abcde", types.StrategicMergePatchType, []byte(`{"metadata":{"labels":{"e2e-csinode-abcde":"patched"}}}`), metav1.PatchOptions{})
	if err != nil || n.Labels["e2e-csinode-abcde"] != "patched" {
		t.Fatalf("csinode patch: %v %v", err, n)
	}
	n.Spec.Drivers = []storagev1.CSINodeDriver{{Name: "a.example.com", NodeID: "n1"}, {Name: "a.example.com", NodeID: "n2"}}
	_, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
	if st := wantStatus(t, "duplicate csinode driver", err, http.StatusUnprocessableEntity); !hasCause(st.ErrStatus, "spec.drivers[1].name") {
		t.Errorf("duplicate driver: %v", st)
	}
	if err := nodes.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "e2e-csinode-abcde=patched"}); err != nil {
		t.Fatal(err)
	}
	if l, err := nodes.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("csinodes after deletecollection: %v %v", err, l)
	}
}

// TestCSIStorageCapacityWatchAcrossNamespaces: the namespaced CSIStorageCapacity through the
// conformance spec's watches (in the namespace and across all), patch, update and
// deletecollection.
func TestCSIStorageCapacityWatchAcrossNamespaces(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	cscs, all := cs.StorageV1().CSIStorageCapacities("default"), cs.StorageV1().CSIStorageCapacities("")
	newCSC := func(name string) *storagev1.CSIStorageCapacity {
		return &storagev1.CSIStorageCapacity{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"test": "csc"}},
			StorageClassName: "e2e.example.com"}
	}
	created, err := cscs.Create(ctx, newCSC("csc1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cscs.Create(ctx, newCSC("csc1"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v", err)
	}
	_, err = cscs.Create(ctx, &storagev1.CSIStorageCapacity{ObjectMeta: metav1.ObjectMeta{Name: "nosc"}}, metav1.CreateOptions{})
	if st := wantStatus(t, "no storage class", err, http.StatusUnprocessableEntity); !hasCause(st.ErrStatus, "storageClassName") {
		t.Errorf("no storage class: %v", st)
	}
	w1, err := cscs.Watch(ctx, metav1.ListOptions{LabelSelector: "test=csc"})
	if err != nil {
		t.Fatal(err)
	}
	defer w1.Stop()
	w2, err := all.Watch(ctx, metav1.ListOptions{LabelSelector: "test=csc"})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	if _, err := cscs.Create(ctx, newCSC("csc2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if l, err := all.List(ctx, metav1.ListOptions{LabelSelector: "test=csc"}); err != nil || len(l.Items) != 2 {
		t.Fatalf("list across namespaces: %v %v", err, l)
	}
	p, err := cscs.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Annotations["updated"] = "true"
	if _, err := cscs.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]watch.Interface{"in namespace": w1, "across namespaces": w2} {
		var added, modified int
		for added < 1 || modified < 2 {
			select {
			case ev := <-w.ResultChan():
				if _, ok := ev.Object.(*storagev1.CSIStorageCapacity); !ok {
					t.Fatalf("%s: event %s of %T", name, ev.Type, ev.Object)
				}
				switch ev.Type {
				case watch.Added:
					added++
				case watch.Modified:
					modified++
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: %d added, %d modified events", name, added, modified)
			}
		}
	}
	if err := cscs.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "test=csc"}); err != nil {
		t.Fatal(err)
	}
	if l, err := all.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("after deletecollection: %v %v", err, l)
	}
}

// TestPodWithCSIInlineVolumes: the CSIInlineVolumes conformance pod (two csi volumes of a
// driver no node has) is accepted, read, listed, patched and deleted; a csi volume without a
// driver is a 422.
func TestPodWithCSIInlineVolumes(t *testing.T) {
	t.Parallel()
	_, cs := startClient(t)
	ctx := testCtx(t)
	pods := cs.CoreV1().Pods("default")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-csi-inline-volumes"},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			Volumes: []corev1.Volume{
				{Name: "csi-inline-vol1", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "e2e.example.com"}}},
				{Name: "csi-inline-vol2", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "e2e.example.com",
					FSType: ptr.To("ext4"), ReadOnly: ptr.To(true)}}},
			},
			Containers: []corev1.Container{{Name: "pod-csi-inline-volumes", Image: "busybox:1.36", Command: []string{"sh", "-c", "ls /mnt/*"},
				VolumeMounts: []corev1.VolumeMount{{Name: "csi-inline-vol1", MountPath: "/mnt/vol1"}, {Name: "csi-inline-vol2", MountPath: "/mnt/vol2"}}}},
		},
	}
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v", err)
	}
	got, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil || got.UID != created.UID || got.Spec.Volumes[1].CSI == nil || *got.Spec.Volumes[1].CSI.FSType != "ext4" {
		t.Fatalf("get: %v %+v", err, got)
	}
	if l, err := pods.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 1 {
		t.Fatalf("list: %v %v", err, l)
	}
	p, err := pods.Patch(ctx, pod.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || p.Annotations["patched"] != "true" {
		t.Fatalf("patch: %v %v", err, p)
	}
	if err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if g, err := pods.Get(ctx, pod.Name, metav1.GetOptions{}); err == nil && g.DeletionTimestamp == nil {
		t.Errorf("after delete: %v", g)
	}

	bad := pod.DeepCopy()
	bad.Name = "no-driver"
	bad.Spec.Volumes[0].CSI.Driver = ""
	_, err = pods.Create(ctx, bad, metav1.CreateOptions{})
	if st := wantStatus(t, "csi volume without a driver", err, http.StatusUnprocessableEntity); !hasCause(st.ErrStatus, "spec.volumes[0].csi.driver") {
		t.Errorf("no driver: %v", st)
	}
}
