package app

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// target is one resource type named on the command line and the object names given for it
// (none means all objects of the type).
type target struct {
	mapping *meta.RESTMapping
	names   []string
}

// resolveArgs interprets command-line arguments the way kubectl does: either
// "TYPE[,TYPE...] [NAME...]" or "TYPE/NAME [TYPE/NAME...]". TYPE may be a plural, singular,
// short name or kind, optionally qualified as "resource.version.group" or "resource.group",
// or a category such as "all".
func (c *clients) resolveArgs(args []string) ([]target, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("you must specify the type of resource")
	}
	if strings.Contains(args[0], "/") {
		return c.resolveSlashArgs(args)
	}
	var out []target
	for _, typ := range strings.Split(args[0], ",") {
		if typ == "" {
			continue
		}
		mappings, err := c.resolveType(typ)
		if err != nil {
			return nil, err
		}
		for _, m := range mappings {
			out = append(out, target{mapping: m, names: args[1:]})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("you must specify the type of resource")
	}
	if len(out) > 1 && len(args) > 1 {
		return nil, fmt.Errorf("names can only be given with one resource type; use TYPE/NAME for several")
	}
	return out, nil
}

func (c *clients) resolveSlashArgs(args []string) ([]target, error) {
	var out []target
	index := map[schema.GroupVersionResource]int{}
	for _, arg := range args {
		typ, name, ok := strings.Cut(arg, "/")
		if !ok || typ == "" || name == "" {
			return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (got %q)", arg)
		}
		mappings, err := c.resolveType(typ)
		if err != nil {
			return nil, err
		}
		if len(mappings) != 1 {
			return nil, fmt.Errorf("%q names a category, not one resource type", typ)
		}
		m := mappings[0]
		if i, seen := index[m.Resource]; seen {
			out[i].names = append(out[i].names, name)
			continue
		}
		index[m.Resource] = len(out)
		out = append(out, target{mapping: m, names: []string{name}})
	}
	return out, nil
}

// resolveType maps one type name to its REST mappings: one for a resource, several for a
// category.
func (c *clients) resolveType(typ string) ([]*meta.RESTMapping, error) {
	m, err := c.mappingFor(typ)
	if err == nil {
		return []*meta.RESTMapping{m}, nil
	}
	if c.categories != nil {
		if grs, ok := c.categories.Expand(strings.ToLower(typ)); ok && len(grs) > 0 {
			var out []*meta.RESTMapping
			seen := map[schema.GroupResource]bool{}
			for _, gr := range grs {
				// A resource served in several versions (autoscaling/v1 and v2 HPAs) is
				// listed once per version: take it once, in its preferred version.
				if seen[gr] {
					continue
				}
				seen[gr] = true
				m, err := c.mappingFor(gr.String())
				if err != nil {
					return nil, fmt.Errorf("category %q: %w", typ, err)
				}
				out = append(out, m)
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("the server doesn't have a resource type %q", typ)
}

func (c *clients) mappingFor(typ string) (*meta.RESTMapping, error) {
	full, gr := schema.ParseResourceArg(typ)
	var gvk schema.GroupVersionKind
	var err error
	if full != nil {
		gvk, err = c.mapper.KindFor(*full)
	}
	if full == nil || err != nil {
		gvk, err = c.mapper.KindFor(gr.WithVersion(""))
	}
	if err != nil {
		return nil, err
	}
	return c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// resourceClient returns the dynamic client of a mapping in namespace ns ("" for all
// namespaces or a cluster-scoped resource).
func (c *clients) resourceClient(m *meta.RESTMapping, ns string) dynamic.ResourceInterface {
	r := c.dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace && ns != "" {
		return r.Namespace(ns)
	}
	return r
}

// namespaced reports whether a mapping is namespace-scoped.
func namespaced(m *meta.RESTMapping) bool {
	return m.Scope.Name() == meta.RESTScopeNameNamespace
}

// kindRef names an object the way kubectl prints it: "pod/x", "deployment.apps/y".
func kindRef(gk schema.GroupKind, name string) string {
	k := strings.ToLower(gk.Kind)
	if gk.Group != "" {
		k += "." + gk.Group
	}
	return k + "/" + name
}
