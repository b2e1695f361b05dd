package discovery

import "k8s.io/apimachinery/pkg/version"

// openapiV2Doc renders the OpenAPI v2 (Swagger) document of all group versions; info.GitVersion
// is its version.
func openapiV2Doc(paths []openapiPath, g *openapiSchemas, info version.Info) openapiObj {
	out := openapiObj{}
	for _, p := range paths {
		item := openapiObj{"parameters": openapiV2PathParams(p.params)}
		for _, op := range p.ops {
			item[op.method] = openapiV2Op(op, g)
		}
		out[p.path] = item
	}
	return openapiObj{
		"swagger":             "2.0",
		"info":                openapiObj{"title": "Kubernetes", "version": info.GitVersion},
		"paths":               out,
		"definitions":         g.defs,
		"securityDefinitions": openapiObj{"BearerToken": openapiObj{"type": "apiKey", "name": "authorization", "in": "header", "description": "Bearer Token authentication"}},
		"security":            []interface{}{openapiObj{"BearerToken": []interface{}{}}},
	}
}

func openapiV2PathParams(names []string) []interface{} {
	out := []interface{}{openapiV2Param("pretty", "query")}
	for _, n := range names {
		p := openapiV2Param(n, "path")
		p["required"] = true
		out = append(out, p)
	}
	return out
}

func openapiV2Param(name, in string) openapiObj {
	p := openapiParams[name]
	return openapiObj{"name": name, "in": in, "description": p.desc, "type": p.typ, "uniqueItems": true}
}

func openapiV2Op(op openapiOp, g *openapiSchemas) openapiObj {
	o := openapiObj{
		"operationId":                     op.id,
		"description":                     op.action + " " + op.gvk.Kind,
		"consumes":                        []string{"*/*"},
		"produces":                        openapiMediaTypes,
		"schemes":                         []string{"https"},
		"x-kubernetes-action":             op.action,
		"x-kubernetes-group-version-kind": openapiGVK(op.gvk),
		"responses":                       openapiV2Responses(op, g),
	}
	if op.method == "patch" {
		o["consumes"] = openapiPatchTypes
	}
	if op.resp == nil {
		o["produces"] = []string{"text/plain"}
	}
	var params []interface{}
	if op.body != nil {
		params = append(params, openapiObj{"name": "body", "in": "body", "required": op.method != "delete", "schema": g.ref(op.body)})
	}
	for _, q := range op.query {
		params = append(params, openapiV2Param(q, "query"))
	}
	if params != nil {
		o["parameters"] = params
	}
	return o
}

func openapiV2Responses(op openapiOp, g *openapiSchemas) openapiObj {
	schema := openapiObj{"type": "string"}
	if op.resp != nil {
		schema = g.ref(op.resp)
	}
	out := openapiObj{
		"200": openapiObj{"description": "OK", "schema": schema},
		"401": openapiObj{"description": "Unauthorized"},
	}
	if op.method == "post" {
		out["201"] = openapiObj{"description": "Created", "schema": schema}
	}
	return out
}
