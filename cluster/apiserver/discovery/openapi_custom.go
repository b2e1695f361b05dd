package discovery

import (
	"encoding/json"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	"k8s.io/kube-openapi/pkg/handler"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/drover-ci/drover/cluster/registry"
)

// The OpenAPI of custom resources is what kube-apiserver publishes for them, built by the same
// code (apiextensions-apiserver's openapi builder) from each CRD's schema: a v3 document per
// group version, and paths and definitions merged into the v2 document. kubectl explains
// custom resources and decides on server-side field validation from them.

// customVersion is one served version of a CRD.
type customVersion struct {
	crd     *apiextensionsv1.CustomResourceDefinition
	version string
}

// customVersions lists the CRD versions behind rs's custom resources, once each.
func customVersions(rs []*registry.Resource) []customVersion {
	seen := map[customVersion]bool{}
	var out []customVersion
	for _, r := range rs {
		if !r.Custom || r.CRD == nil {
			continue
		}
		cv := customVersion{crd: r.CRD, version: r.Version}
		if !seen[cv] {
			seen[cv] = true
			out = append(out, cv)
		}
	}
	return out
}

// openapiCustomV3 is the OpenAPI v3 document of a group version served by CRDs only.
func openapiCustomV3(cvs []customVersion) ([]byte, error) {
	specs := make([]*spec3.OpenAPI, 0, len(cvs))
	for _, cv := range cvs {
		s, err := builder.BuildOpenAPIV3(cv.crd, cv.version, builder.Options{IncludeSelectableFields: true})
		if err != nil {
			return nil, fmt.Errorf("OpenAPI v3 of %s %s: %w", cv.crd.Name, cv.version, err)
		}
		specs = append(specs, s)
	}
	merged, err := builder.MergeSpecsV3(specs...)
	if err != nil {
		return nil, fmt.Errorf("merging the OpenAPI v3 of custom resources: %w", err)
	}
	return json.Marshal(merged)
}

// openapiCustomV2 returns the paths and definitions of the custom resources' OpenAPI v2, to be
// merged into the document of the built-in ones (whose definitions win: the metadata types).
func openapiCustomV2(cvs []customVersion) (paths, defs openapiObj, err error) {
	merged := &spec.Swagger{}
	for _, cv := range cvs {
		s, err := builder.BuildOpenAPIV2(cv.crd, cv.version, builder.Options{V2: true, IncludeSelectableFields: true})
		if err != nil {
			return nil, nil, fmt.Errorf("OpenAPI v2 of %s %s: %w", cv.crd.Name, cv.version, err)
		}
		s.Definitions = handler.PruneDefaults(s.Definitions)
		if merged, err = builder.MergeSpecs(merged, s); err != nil {
			return nil, nil, fmt.Errorf("merging the OpenAPI v2 of custom resources: %w", err)
		}
	}
	b, err := json.Marshal(merged)
	if err != nil {
		return nil, nil, err
	}
	var doc struct {
		Paths       openapiObj `json:"paths"`
		Definitions openapiObj `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, nil, err
	}
	return doc.Paths, doc.Definitions, nil
}
