package discovery

import "k8s.io/apimachinery/pkg/version"

// openapiV3Doc renders the OpenAPI v3 document of one group version; info.GitVersion is its
// version.
func openapiV3Doc(paths []openapiPath, g *openapiSchemas, info version.Info) openapiObj {
	out := openapiObj{}
	for _, p := range paths {
		item := openapiObj{"parameters": openapiV3PathParams(p.params)}
		for _, op := range p.ops {
			item[op.method] = openapiV3Op(op, g)
		}
		out[p.path] = item
	}
	return openapiObj{
		"openapi": "3.0.0",
		"info":    openapiObj{"title": "Kubernetes", "version": info.GitVersion},
		"paths":   out,
		"components": openapiObj{
			"schemas":         g.defs,
			"securitySchemes": openapiObj{"BearerToken": openapiObj{"type": "apiKey", "name": "authorization", "in": "header", "description": "Bearer Token authentication"}},
		},
		"security": []interface{}{openapiObj{"BearerToken": []interface{}{}}},
	}
}

func openapiV3PathParams(names []string) []interface{} {
	out := []interface{}{openapiV3Param("pretty", "query")}
	for _, n := range names {
		p := openapiV3Param(n, "path")
		p["required"] = true
		out = append(out, p)
	}
	return out
}

func openapiV3Param(name, in string) openapiObj {
	p := openapiParams[name]
	return openapiObj{
		"name":        name,
		"in":          in,
		"description": p.desc,
		"schema":      openapiObj{"type": p.typ, "uniqueItems": true},
	}
}

func openapiV3Op(op openapiOp, g *openapiSchemas) openapiObj {
	o := openapiObj{
		"operationId":                     op.id,
		"description":                     op.action + " " + op.gvk.Kind,
		"x-kubernetes-action":             op.action,
		"x-kubernetes-group-version-kind": openapiGVK(op.gvk),
		"responses":                       openapiV3Responses(op, g),
	}
	var params []interface{}
	for _, q := range op.query {
		params = append(params, openapiV3Param(q, "query"))
	}
	if params != nil {
		o["parameters"] = params
	}
	if op.body != nil {
		types := []string{"application/json", "application/yaml"}
		if op.method == "patch" {
			types = openapiPatchTypes
		}
		content := openapiObj{}
		for _, t := range types {
			content[t] = openapiObj{"schema": g.ref(op.body)}
		}
		o["requestBody"] = openapiObj{"content": content, "required": op.method != "delete"}
	}
	return o
}

func openapiV3Responses(op openapiOp, g *openapiSchemas) openapiObj {
	var content openapiObj
	if op.resp == nil {
		content = openapiObj{"text/plain": openapiObj{"schema": openapiObj{"type": "string"}}}
	} else {
		content = openapiObj{}
		for _, t := range openapiMediaTypes {
			content[t] = openapiObj{"schema": g.ref(op.resp)}
		}
	}
	out := openapiObj{
		"200": openapiObj{"description": "OK", "content": content},
		"401": openapiObj{"description": "Unauthorized"},
	}
	if op.method == "post" {
		out["201"] = openapiObj{"description": "Created", "content": content}
	}
	return out
}
