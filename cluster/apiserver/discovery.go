package apiserver

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"

	"github.com/drover-ci/drover/cluster/registry"
)

// discoveryDoc is one encoded answer with its validator and, when large, its gzip encoding.
type discoveryDoc struct {
	body        []byte
	gzipped     []byte
	contentType string
	etag        string
}

// discoveryGzipMin is the size from which documents are also kept gzipped (the OpenAPI
// documents: about 400 KB each, 10 times smaller gzipped).
const discoveryGzipMin = 32 << 10

func discoveryNewDoc(body []byte, contentType string) *discoveryDoc {
	d := &discoveryDoc{body: body, contentType: contentType, etag: fmt.Sprintf("\"%X\"", sha512.Sum512(body))}
	if len(body) >= discoveryGzipMin {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(body)
		if zw.Close() == nil {
			d.gzipped = buf.Bytes()
		}
	}
	return d
}

// discoveryHandler serves documents encoded once, at construction.
type discoveryHandler struct {
	legacy  map[string]*discoveryDoc // by path
	aggCore *discoveryDoc            // /api, aggregated
	aggAPIs *discoveryDoc            // /apis, aggregated
	version *discoveryDoc
	openapi *openapiDocs
}

// Discovery serves /api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version}, /version,
// /openapi/v2 and /openapi/v3[/...] for the given resources.
func NewDiscovery(resources []*registry.Resource, info version.Info) http.Handler {
	h, err := discoveryBuild(resources, info)
	if err != nil {
		// Only a bug in the document builders gets here: the inputs are Go types.
		panic(fmt.Sprintf("apiserver: building discovery documents: %v", err))
	}
	return h
}

func discoveryBuild(resources []*registry.Resource, info version.Info) (*discoveryHandler, error) {
	groups := discoveryGroups(resources)
	h := &discoveryHandler{legacy: map[string]*discoveryDoc{}}
	for path, doc := range discoveryLegacyDocs(groups) {
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", path, err)
		}
		h.legacy[path] = discoveryNewDoc(b, "application/json")
	}
	core, named := discoveryAggregatedDocs(groups)
	for _, d := range []struct {
		dst **discoveryDoc
		v   interface{}
	}{{&h.aggCore, core}, {&h.aggAPIs, named}, {&h.version, info}} {
		b, err := json.Marshal(d.v)
		if err != nil {
			return nil, fmt.Errorf("encoding discovery: %w", err)
		}
		*d.dst = discoveryNewDoc(b, "application/json")
	}
	h.aggCore.contentType = discoveryAggregatedType
	h.aggAPIs.contentType = discoveryAggregatedType
	docs, err := openapiBuild(groups)
	if err != nil {
		return nil, err
	}
	h.openapi = docs
	return h, nil
}

// IsDiscoveryPath reports whether path is one of those (exact paths, not resource paths like
// /api/v1/pods).
func IsDiscoveryPath(path string) bool {
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

func (h *discoveryHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		discoveryWriteStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
			fmt.Sprintf("%s is not supported on %s", r.Method, r.URL.Path))
		return
	}
	path := r.URL.Path
	if path != "/" {
		path = strings.TrimSuffix(path, "/")
	}
	switch {
	case path == "/version":
		discoveryWrite(w, r, h.version)
	case path == "/api" || path == "/apis":
		w.Header().Add("Vary", "Accept")
		doc := h.legacy[path]
		if discoveryWantsAggregated(r.Header.Get("Accept")) {
			doc = h.aggCore
			if path == "/apis" {
				doc = h.aggAPIs
			}
		}
		discoveryWrite(w, r, doc)
	case path == "/openapi/v2":
		h.openapi.serveV2(w, r)
	case path == "/openapi/v3" || strings.HasPrefix(path, "/openapi/v3/"):
		h.openapi.serveV3(w, r, strings.TrimPrefix(strings.TrimPrefix(path, "/openapi/v3"), "/"))
	default:
		doc, ok := h.legacy[path]
		if !ok {
			discoveryWriteStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
			return
		}
		discoveryWrite(w, r, doc)
	}
}

// discoveryWrite answers with a cached document, or 304 when the client has it already.
func discoveryWrite(w http.ResponseWriter, r *http.Request, doc *discoveryDoc) {
	w.Header().Set("Content-Type", doc.contentType)
	w.Header().Set("Etag", doc.etag)
	if discoveryETagMatches(r.Header.Get("If-None-Match"), doc.etag) {
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
	if _, err := w.Write(body); err != nil {
		slog.Debug("discovery: writing response", "path", r.URL.Path, "err", err)
	}
}

func discoveryETagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// discoveryWriteStatus writes a metav1.Status failure, as every Kubernetes error is.
func discoveryWriteStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
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
