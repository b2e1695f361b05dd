// Package discovery serves what clients read to learn the API before they use it: discovery
// (/api, /apis and their group versions, legacy and aggregated), /version, and the OpenAPI v2
// and v3 documents kubectl validates and patches with. Every document is built once, from the
// resource descriptors and the version info given to New, and served from memory with ETags.
package discovery

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"

	"github.com/drover-ci/drover/cluster/registry"
)

// document is one encoded answer with its validator and, when large, its gzip encoding.
type document struct {
	body        []byte
	gzipped     []byte
	contentType string
	etag        string
}

// gzipMin is the size from which documents are also kept gzipped (the OpenAPI
// documents: about 400 KB each, 10 times smaller gzipped).
const gzipMin = 32 << 10

func newDocument(body []byte, contentType string) *document {
	d := &document{body: body, contentType: contentType, etag: fmt.Sprintf("\"%X\"", sha512.Sum512(body))}
	if len(body) >= gzipMin {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(body)
		if zw.Close() == nil {
			d.gzipped = buf.Bytes()
		}
	}
	return d
}

// Handler serves documents encoded once: discovery and /version at construction, OpenAPI on
// the first request for it (about a third of a second of work, ten times that under the race
// detector, which most API servers a test starts would spend for nothing).
type Handler struct {
	legacy  map[string]*document // by path
	aggCore *document            // /api, aggregated
	aggAPIs *document            // /apis, aggregated
	version *document

	groups      []*groupVersions
	info        version.Info
	openapiOnce sync.Once
	openapi     *openapiDocs
	openapiErr  error
}

// New returns the handler of /api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version},
// /version, /openapi/v2 and /openapi/v3[/...] for the given resources; /version answers info,
// which is also the OpenAPI documents' version.
func New(resources []*registry.Resource, info version.Info) *Handler {
	return NewAggregated(resources, info, nil)
}

// NewAggregated is New with the group versions extension API servers serve (the
// aggregation layer's remote APIServices) listed in /apis, /apis/{group} and aggregated
// discovery beside drover's own. Their /apis/{group}/{version} is the extension server's to
// answer (IsPath still reports it; the caller proxies it first), and their OpenAPI is left out.
func NewAggregated(resources []*registry.Resource, info version.Info, remote []Remote) *Handler {
	h, err := build(resources, info, remote)
	if err != nil {
		// Only a bug in the document builders gets here: the inputs are Go types.
		panic(fmt.Sprintf("discovery: building documents: %v", err))
	}
	return h
}

func build(resources []*registry.Resource, info version.Info, remote []Remote) (*Handler, error) {
	groups := groupsOf(resources, remote)
	h := &Handler{legacy: map[string]*document{}, groups: groups, info: info}
	for path, doc := range legacyDocs(groups) {
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", path, err)
		}
		h.legacy[path] = newDocument(b, "application/json")
	}
	core, named := aggregatedDocs(groups)
	for _, d := range []struct {
		dst **document
		v   interface{}
	}{{&h.aggCore, core}, {&h.aggAPIs, named}, {&h.version, info}} {
		b, err := json.Marshal(d.v)
		if err != nil {
			return nil, fmt.Errorf("encoding discovery: %w", err)
		}
		*d.dst = newDocument(b, "application/json")
	}
	h.aggCore.contentType = aggregatedType
	h.aggAPIs.contentType = aggregatedType
	return h, nil
}

// loadOpenAPI returns the OpenAPI documents, building them on first use; if that fails (only
// a bug in the builders can: the inputs are Go types) it answers 500 and returns nil.
func (h *Handler) loadOpenAPI(w http.ResponseWriter) *openapiDocs {
	h.openapiOnce.Do(func() { h.openapi, h.openapiErr = openapiBuild(h.groups, h.info) })
	if h.openapiErr != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "building OpenAPI: "+h.openapiErr.Error())
		return nil
	}
	return h.openapi
}

// IsPath reports whether path is one of the paths New serves (exact paths, not resource paths like
// /api/v1/pods).
func IsPath(path string) bool {
	if path != "/" {
		path = strings.TrimSuffix(path, "/")
	}
	switch path {
	case "/api", "/api/v1", "/apis", "/version", "/openapi/v2", "/openapi/v3":
		return true
	}
	if strings.HasPrefix(path, "/openapi/v3/") {
		return true
	}
	if rest, ok := strings.CutPrefix(path, "/apis/"); ok {
		n := strings.Count(rest, "/")
		return rest != "" && n <= 1 && !strings.HasPrefix(rest, "/") && !strings.HasSuffix(rest, "/")
	}
	return false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
			fmt.Sprintf("%s is not supported on %s", r.Method, r.URL.Path))
		return
	}
	path := r.URL.Path
	if path != "/" {
		path = strings.TrimSuffix(path, "/")
	}
	switch {
	case path == "/version":
		write(w, r, h.version)
	case path == "/api" || path == "/apis":
		w.Header().Add("Vary", "Accept")
		doc := h.legacy[path]
		if wantsAggregated(r.Header.Get("Accept")) {
			doc = h.aggCore
			if path == "/apis" {
				doc = h.aggAPIs
			}
		}
		write(w, r, doc)
	case path == "/openapi/v2":
		if docs := h.loadOpenAPI(w); docs != nil {
			docs.serveV2(w, r)
		}
	case path == "/openapi/v3" || strings.HasPrefix(path, "/openapi/v3/"):
		if docs := h.loadOpenAPI(w); docs != nil {
			docs.serveV3(w, r, strings.TrimPrefix(strings.TrimPrefix(path, "/openapi/v3"), "/"))
		}
	default:
		doc, ok := h.legacy[path]
		if !ok {
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
			return
		}
		write(w, r, doc)
	}
}

// write answers with a cached document, or 304 when the client has it already.
func write(w http.ResponseWriter, r *http.Request, doc *document) {
	w.Header().Set("Content-Type", doc.contentType)
	w.Header().Set("Etag", doc.etag)
	if etagMatches(r.Header.Get("If-None-Match"), doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := doc.body
	if doc.gzipped != nil {
		w.Header().Add("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			body = doc.gzipped
		}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a client that went away is no news
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// writeStatus writes a metav1.Status failure, as every Kubernetes error is.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	st := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  msg,
		Reason:   reason,
		Code:     int32(code),
	}
	b, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
