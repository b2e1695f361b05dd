package app

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// restFor returns a REST client for the group and version of a mapping, for requests the
// dynamic client cannot make (Table output, watch streams of Tables).
func (c *clients) restFor(m *meta.RESTMapping) (rest.Interface, error) {
	if c.config == nil {
		return nil, fmt.Errorf("no REST configuration")
	}
	cfg := rest.CopyConfig(c.config)
	gv := m.GroupVersionKind.GroupVersion()
	cfg.GroupVersion = &gv
	cfg.APIPath = "/apis"
	if gv.Group == "" {
		cfg.APIPath = "/api"
	}
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	return rest.RESTClientFor(cfg)
}

// doRaw is req's response body, or the server's error as the Status it sent ("pods is
// forbidden: User ..."): rest.Request.DoRaw returns a generic "unknown (get pods)" instead.
func doRaw(ctx context.Context, req *rest.Request) ([]byte, error) {
	res := req.Do(ctx)
	if err := res.Error(); err != nil {
		return nil, err
	}
	return res.Raw()
}

// selectors are the label and field selectors of a list or watch.
type selectors struct {
	label, field string
}

// tableRequest builds a GET of a Table for one object (name set) or a list.
func tableRequest(rc rest.Interface, m *meta.RESTMapping, ns, name string, sel selectors) *rest.Request {
	req := rc.Get().
		NamespaceIfScoped(ns, namespaced(m) && ns != "").
		Resource(m.Resource.Resource).
		SetHeader("Accept", tableAccept).
		Param("includeObject", "Metadata")
	if name != "" {
		return req.Name(name)
	}
	if sel.label != "" {
		req = req.Param("labelSelector", sel.label)
	}
	if sel.field != "" {
		req = req.Param("fieldSelector", sel.field)
	}
	return req
}

// fetchTable gets a Table of the named objects (all matching sel when names is empty). Objects
// not found are reported through notFound and left out.
func (c *clients) fetchTable(ctx context.Context, m *meta.RESTMapping, ns string, names []string, sel selectors,
	notFound func(error)) (*metav1.Table, error) {
	rc, err := c.restFor(m)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		data, err := doRaw(ctx, tableRequest(rc, m, ns, "", sel))
		if err != nil {
			return nil, err
		}
		return decodeTable(data)
	}
	var out *metav1.Table
	for _, name := range names {
		data, err := doRaw(ctx, tableRequest(rc, m, ns, name, sel))
		if err != nil {
			if notFound != nil && isNotFound(err) {
				notFound(err)
				continue
			}
			return nil, err
		}
		t, err := decodeTable(data)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = t
		} else {
			out.Rows = append(out.Rows, t.Rows...)
		}
	}
	if out == nil {
		out = &metav1.Table{}
	}
	return out, nil
}
