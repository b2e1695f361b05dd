package jenkinstest

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Parameter is one build parameter value.
type Parameter struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ParamDef is a job's parameter definition (config.xml
// <hudson.model.ParametersDefinitionProperty>): its class, e.g.
// "hudson.model.StringParameterDefinition", name and default value.
type ParamDef struct {
	Class   string `json:"class"`
	Name    string `json:"name"`
	Default string `json:"defaultValue,omitempty"`
}

// paramDefsXML is <parameterDefinitions>: any *ParameterDefinition element.
type paramDefsXML struct {
	Defs []struct {
		XMLName xml.Name
		Name    string   `xml:"name"`
		Default string   `xml:"defaultValue"`
		Choices []string `xml:"choices>a>string"` // java.util.Arrays$ArrayList
		Listed  []string `xml:"choices>string"`   // a plain list
	} `xml:",any"`
}

func (p paramDefsXML) defs() []ParamDef {
	var out []ParamDef
	for _, d := range p.Defs {
		def := ParamDef{Class: d.XMLName.Local, Name: strings.TrimSpace(d.Name), Default: d.Default}
		if choices := slices.Concat(d.Choices, d.Listed); len(choices) > 0 && def.Default == "" {
			def.Default = choices[0] // a choice parameter defaults to its first choice
		}
		if def.Name != "" {
			out = append(out, def)
		}
	}
	return out
}

// valuesOf are the parameter values of a request for job j: each
// definition takes the form's value or its default; names the job does not
// define are dropped, as Jenkins does.
func valuesOf(j *job, form func(string) (string, bool)) []Parameter {
	out := make([]Parameter, 0, len(j.params))
	for _, d := range j.params {
		v, ok := form(d.Name)
		if !ok {
			v = d.Default
		}
		out = append(out, Parameter{Name: d.Name, Value: v})
	}
	return out
}

// buildWithParameters answers POST /job/J/buildWithParameters: parameters
// from the query or an urlencoded form, 201 with the queue item's Location.
// A job without parameters answers 500 as Jenkins 2.376 does.
func (s *Server) buildWithParameters(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	j, ok := s.jobs[r.PathValue("job")]
	var id int64
	parameterized := ok && len(j.params) > 0
	if parameterized {
		params := valuesOf(j, func(name string) (string, bool) {
			v, ok := r.Form[name]
			if !ok || len(v) == 0 {
				return "", false
			}
			return v[0], true
		})
		id = s.enqueueParamsLocked(j, j.assigned, params)
		s.quietLocked(id, r.Form.Get("delay"))
	}
	s.mu.Unlock()
	switch {
	case !ok:
		notFound(w)
		return
	case !parameterized:
		http.Error(w, "java.lang.IllegalStateException: This build is not parameterized!", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("%s/queue/item/%d/", s.URL(), id))
	w.WriteHeader(http.StatusCreated)
}

// parametersAction is a build's (or queue item's) ParametersAction.
func parametersAction(j *job, params []Parameter) map[string]any {
	values := []any{}
	for _, p := range params {
		class := "hudson.model.StringParameterValue"
		var v any = p.Value
		if i := slices.IndexFunc(j.params, func(d ParamDef) bool { return d.Name == p.Name }); i >= 0 {
			class = strings.TrimSuffix(j.params[i].Class, "Definition") + "Value"
			if strings.HasSuffix(j.params[i].Class, ".BooleanParameterDefinition") {
				v = p.Value == "true"
			}
		}
		values = append(values, map[string]any{"_class": class, "name": p.Name, "value": v})
	}
	return map[string]any{"_class": "hudson.model.ParametersAction", "parameters": values}
}

// actions is the actions array of a build or queue item: the parameters
// (when there are any), then the cause, as Jenkins lists them.
func actions(j *job, params []Parameter) []any {
	out := []any{}
	if len(j.params) > 0 || len(params) > 0 {
		out = append(out, parametersAction(j, params))
	}
	return append(out, map[string]any{"_class": "hudson.model.CauseAction", "causes": []any{
		map[string]any{"_class": "hudson.model.Cause$RemoteCause", "shortDescription": "Started by remote host"}}})
}
