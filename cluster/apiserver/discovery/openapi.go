package discovery

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/drover-ci/drover/cluster/registry"
)

// The protobuf encoding of OpenAPI v2. client-go's OpenAPISchema() asks for the deprecated
// spelling with "@"; the answer must carry the other one, because client-go parses the
// Content-Type with mime.ParseMediaType, which rejects the "@" (kube-apiserver does the same).
const (
	openapiV2ProtoType           = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	openapiV2ProtoTypeDeprecated = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
)

// openapiDocs are the encoded OpenAPI documents.
type openapiDocs struct {
	v2JSON  *document
	v2Proto *document
	v3Root  *document
	v3      map[string]*document // by "api/v1", "apis/batch/v1"
	v3Hash  map[string]string
}

// openapiV3Discovery is the /openapi/v3 root (k8s.io/kube-openapi/pkg/handler3's
// OpenAPIV3Discovery): where each group version's document is.
type openapiV3Discovery struct {
	Paths map[string]openapiV3DiscoveryGV `json:"paths"`
}

type openapiV3DiscoveryGV struct {
	ServerRelativeURL string `json:"serverRelativeURL"`
}

// openapiBuild renders and encodes the OpenAPI v2 document and the v3 documents of every
// group version, with info's version.
func openapiBuild(groups []*groupVersions, info version.Info) (*openapiDocs, error) {
	docs := &openapiDocs{v3: map[string]*document{}, v3Hash: map[string]string{}}
	root := openapiV3Discovery{Paths: map[string]openapiV3DiscoveryGV{}}
	var allPaths []openapiPath
	var all []*registry.Resource
	var custom []customVersion
	for _, g := range groups {
		for _, v := range g.versions {
			key := strings.TrimPrefix(pathOf(g.name, v), "/")
			rs := openapiTyped(g.byVer[v])
			var b []byte
			var err error
			cvs := customVersions(g.byVer[v])
			custom = append(custom, cvs...) // in v2 whatever their group
			if len(cvs) > 0 && len(rs) == 0 {
				b, err = openapiCustomV3(cvs)
			} else {
				// A CRD in a built-in group version (one of the *.k8s.io groups, which needs
				// api-approved.kubernetes.io) is in v2 only.
				paths := openapiPathsOf(rs)
				allPaths = append(allPaths, paths...)
				all = append(all, rs...)
				gen := openapiNewSchemas(true)
				openapiMarkKinds(gen, rs)
				b, err = json.Marshal(openapiV3Doc(paths, gen, info))
			}
			if err != nil {
				return nil, fmt.Errorf("encoding OpenAPI v3 of %s: %w", groupVersionString(g.name, v), err)
			}
			docs.v3[key] = newDocument(b, "application/json")
			docs.v3Hash[key] = fmt.Sprintf("%X", sha512.Sum512(b))
			root.Paths[key] = openapiV3DiscoveryGV{ServerRelativeURL: "/openapi/v3/" + key + "?hash=" + docs.v3Hash[key]}
		}
	}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("encoding OpenAPI v3 root: %w", err)
	}
	docs.v3Root = newDocument(b, "application/json")
	return docs, openapiBuildV2(docs, allPaths, all, custom, info)
}

func openapiBuildV2(docs *openapiDocs, paths []openapiPath, rs []*registry.Resource, custom []customVersion, info version.Info) error {
	gen := openapiNewSchemas(false)
	openapiMarkKinds(gen, rs)
	v2 := openapiV2Doc(paths, gen, info)
	if len(custom) > 0 {
		cpaths, cdefs, err := openapiCustomV2(custom)
		if err != nil {
			return err
		}
		dst := v2["paths"].(openapiObj)
		for k, v := range cpaths {
			if _, ok := dst[k]; !ok {
				dst[k] = v
			}
		}
		for k, v := range cdefs {
			if _, ok := gen.defs[k]; !ok {
				gen.defs[k], _ = v.(openapiObj)
			}
		}
	}
	b, err := json.Marshal(v2)
	if err != nil {
		return fmt.Errorf("encoding OpenAPI v2: %w", err)
	}
	doc, err := openapiv2.ParseDocument(b)
	if err != nil {
		return fmt.Errorf("parsing OpenAPI v2: %w", err)
	}
	pb, err := proto.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encoding OpenAPI v2 as protobuf: %w", err)
	}
	docs.v2JSON = newDocument(b, "application/json")
	docs.v2Proto = newDocument(pb, openapiV2ProtoType)
	return nil
}

// openapiTyped leaves out resources without Go types: they have no schema to publish.
func openapiTyped(rs []*registry.Resource) []*registry.Resource {
	var out []*registry.Resource
	for _, r := range rs {
		if r.New != nil && r.NewList != nil && !r.Custom { // custom resources: no Go type to describe
			out = append(out, r)
		}
	}
	return out
}

func openapiPathsOf(rs []*registry.Resource) []openapiPath {
	var out []openapiPath
	for _, r := range rs {
		out = append(out, openapiResourcePaths(r)...)
	}
	return out
}

// openapiMarkKinds tags the definitions of the resources' kinds, list kinds and subresource
// kinds with x-kubernetes-group-version-kind.
func openapiMarkKinds(gen *openapiSchemas, rs []*registry.Resource) {
	for _, r := range rs {
		gen.markKind(openapiTypeOf(r.New()), r.GroupVersionKind())
		gen.markKind(openapiTypeOf(r.NewList()), r.GroupVersion().WithKind(r.ListKind))
		for _, sub := range r.Subresources {
			gvk := subresourceOf(r, sub).gvk
			if t, ok := openapiSubTypes[gvk]; ok {
				gen.markKind(t, gvk)
			}
		}
	}
	gen.markKind(openapiTypeStatus, schema.GroupVersionKind{Version: "v1", Kind: "Status"})
}

// serveV2 answers /openapi/v2 in protobuf when asked (kubectl does), else in JSON.
func (d *openapiDocs) serveV2(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, openapiV2ProtoType) || strings.Contains(accept, openapiV2ProtoTypeDeprecated) {
		write(w, r, d.v2Proto)
		return
	}
	write(w, r, d.v2JSON)
}

// serveV3 answers /openapi/v3 (key "") and /openapi/v3/{key}. Documents asked for by their
// current hash may be cached for good, as kube-apiserver allows.
func (d *openapiDocs) serveV3(w http.ResponseWriter, r *http.Request, key string) {
	if key == "" {
		write(w, r, d.v3Root)
		return
	}
	doc, ok := d.v3[key]
	if !ok {
		writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
		return
	}
	if h := r.URL.Query().Get("hash"); h != "" && h == d.v3Hash[key] {
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	} else {
		w.Header().Set("Cache-Control", "no-cache, private")
	}
	write(w, r, doc)
}
