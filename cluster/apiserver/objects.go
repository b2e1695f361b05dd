package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover-ci/drover/cluster/registry"
)

// Storage keys: GROUP/RESOURCE/NAMESPACE/NAME for namespaced resources and GROUP/RESOURCE/NAME
// for cluster-scoped ones; the core group is spelled "core". Values are the object's JSON in
// its API version, without resourceVersion (that is the store revision, set on read).

func objectKey(res *registry.Resource, ns, name string) string {
	if res.Namespaced {
		return groupKey(res) + "/" + res.Resource + "/" + ns + "/" + name
	}
	return groupKey(res) + "/" + res.Resource + "/" + name
}

// listPrefix is the key prefix of every object of res in namespace ns ("" for all).
func listPrefix(res *registry.Resource, ns string) string {
	if res.Namespaced && ns != "" {
		return groupKey(res) + "/" + res.Resource + "/" + ns + "/"
	}
	return groupKey(res) + "/" + res.Resource + "/"
}

// groupKey is the group part of res's keys: that of the group its objects are stored in (a view
// of another group's resource, events.k8s.io/v1 events, shares that group's keys).
func groupKey(res *registry.Resource) string {
	if g := res.StorageGroupResource().Group; g != "" {
		return g
	}
	return "core"
}

// encodeObject serialises obj for storage.
func encodeObject(res *registry.Resource, obj runtime.Object) ([]byte, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	obj.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
	stored := obj
	if res.Storage != nil {
		if stored, err = res.Storage.ToStorage(obj); err != nil {
			m.SetResourceVersion(rv)
			return nil, fmt.Errorf("convert %s to %s: %w", res.Kind, res.Storage.Kind, err)
		}
		stored.GetObjectKind().SetGroupVersionKind(res.Storage.Kind)
	}
	b, err := json.Marshal(stored)
	m.SetResourceVersion(rv)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", res.Kind, err)
	}
	return b, nil
}

// decodeObject reads a stored value and sets its resourceVersion to rev.
func decodeObject(res *registry.Resource, value []byte, rev int64) (runtime.Object, error) {
	obj := res.New()
	if res.Storage != nil {
		stored := res.Storage.New()
		if err := json.Unmarshal(value, stored); err != nil {
			return nil, fmt.Errorf("decode stored %s: %w", res.Storage.Kind, err)
		}
		var err error
		if obj, err = res.Storage.FromStorage(stored); err != nil {
			return nil, fmt.Errorf("convert %s to %s: %w", res.Storage.Kind, res.Kind, err)
		}
	} else if err := json.Unmarshal(value, obj); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", res.Kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
	if res.Custom && res.Default != nil {
		res.Default(obj) // kube-apiserver defaults custom objects read from storage too
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if rev > 0 {
		m.SetResourceVersion(strconv.FormatInt(rev, 10))
	}
	return obj, nil
}

// getObject reads one object and its revision.
func (s *Server) getObject(ctx context.Context, res *registry.Resource, ns, name string) (runtime.Object, int64, error) {
	kv, err := s.store.Get(ctx, objectKey(res, ns, name))
	if err != nil {
		return nil, 0, storeError(err, res.GroupVersionResource().GroupResource(), name)
	}
	obj, err := decodeObject(res, kv.Value, kv.Revision)
	return obj, kv.Revision, err
}

// listObjects reads every object of res in ns ("" for all namespaces).
func (s *Server) listObjects(ctx context.Context, res *registry.Resource, ns string) ([]runtime.Object, int64, error) {
	kvs, rev, err := s.store.List(ctx, listPrefix(res, ns))
	if err != nil {
		return nil, 0, storeError(err, res.GroupVersionResource().GroupResource(), "")
	}
	out := make([]runtime.Object, 0, len(kvs))
	for _, kv := range kvs {
		obj, err := decodeObject(res, kv.Value, kv.Revision)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, obj)
	}
	return out, rev, nil
}

// accessor is meta.Accessor for objects known to have ObjectMeta.
func accessor(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(fmt.Sprintf("apiserver: %T has no metadata: %v", obj, err))
	}
	return m
}

func revisionOf(obj runtime.Object) int64 {
	rv, _ := strconv.ParseInt(accessor(obj).GetResourceVersion(), 10, 64)
	return rv
}
