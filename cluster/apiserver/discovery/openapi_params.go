package discovery

// openapiParam describes a query or path parameter.
type openapiParam struct {
	typ  string // string, integer, boolean
	desc string
}

// openapiParams are the parameters drover's operations take, described as Kubernetes does.
var openapiParams = map[string]openapiParam{
	"allowWatchBookmarks":  {"boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."},
	"continue":             {"string", "The continue option should be set when retrieving more results from the server."},
	"fieldSelector":        {"string", "A selector to restrict the list of returned objects by their fields. Defaults to everything."},
	"labelSelector":        {"string", "A selector to restrict the list of returned objects by their labels. Defaults to everything."},
	"limit":                {"integer", "limit is a maximum number of responses to return for a list call."},
	"resourceVersion":      {"string", "resourceVersion sets a constraint on what resource versions a request may be served from."},
	"resourceVersionMatch": {"string", "resourceVersionMatch determines how resourceVersion is applied to list calls."},
	"sendInitialEvents":    {"boolean", "`sendInitialEvents=true` may be set together with `watch=true`."},
	"timeoutSeconds":       {"integer", "Timeout for the list/watch call."},
	"watch":                {"boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."},
	"dryRun":               {"string", "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed"},
	"fieldManager":         {"string", "fieldManager is a name associated with the actor or entity that is making these changes."},
	"fieldValidation": {"string", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. " +
		"Valid values are: - Ignore - Warn - Strict (the default)."},
	"force":              {"boolean", "Force is going to \"force\" Apply requests."},
	"gracePeriodSeconds": {"integer", "The duration in seconds before the object should be deleted."},
	"orphanDependents":   {"boolean", "Deprecated: please use the PropagationPolicy."},
	"propagationPolicy":  {"string", "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'."},
	"container":          {"string", "The container for which to stream logs. Defaults to only container if there is one container in the pod."},
	"follow":             {"boolean", "Follow the log stream of the pod."},
	"limitBytes":         {"integer", "If set, the number of bytes to read from the server before terminating the log output."},
	"previous":           {"boolean", "Return previous terminated container logs."},
	"sinceSeconds":       {"integer", "A relative time in seconds before the current time from which to show logs."},
	"tailLines":          {"integer", "If set, the number of lines from the end of the logs to show."},
	"timestamps":         {"boolean", "If true, add an RFC3339 timestamp at the beginning of every line of log output."},
	"namespace":          {"string", "object name and auth scope, such as for teams and projects"},
	"name":               {"string", "name of the object"},
	"pretty":             {"string", "If 'true', then the output is pretty printed."},
}

// openapiPatchTypes are the PATCH bodies drover accepts.
var openapiPatchTypes = []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"}

// openapiMediaTypes are the response encodings drover offers.
var openapiMediaTypes = []string{"application/json", "application/yaml"}
